//! Inbound telephony (issue 24, parts 1, 2 and 4): Twilio's SMS and voice
//! webhooks, verified against the called number's channel, turned into
//! conversations, opt-out changes and call records.
