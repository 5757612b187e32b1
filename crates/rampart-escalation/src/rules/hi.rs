//! Rules in Hindi (Devanagari and romanised), written as customers type them (accents optional:
//! words are normalised before matching).

use crate::intents::Intent;
use crate::patterns::{RuleSpec, p};

pub(crate) static RULES: &[RuleSpec] = &[
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a gas leak or carbon monoxide",
        patterns: &[
            p("गैस की? बदबू|गंध|लीक|रिसाव|महक"),
            p("गैस लीक"),
            p("gas ki|ka? badboo|badbu|bu|smell|gandh|leak"),
            p("gas leak ho"),
            p("sade ande|anda|ando ki? badboo|badbu|bu|smell"),
            p("सड़े अंडे"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a fire, sparks or an electrical danger",
        patterns: &[
            p("आग"),
            p("धुआं|धुंआ|धुआँ"),
            p("चिंगारी|चिंगारियां|चिंगारियाँ|स्पार्क"),
            p("शॉर्ट सर्किट"),
            p("करंट लगा|लग"),
            p("aag lag|lagi|laga|lagi_hai|gayi"),
            p("aag"),
            p("dhuan|dhua|dhuaan|dhuwan|dhuaa"),
            p("chingari|chingariyan|chingaari"),
            p("short circuit"),
            p("current|karant laga|lag|maar|mara"),
            p("jal raha|rahi|gaya|gayi"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a flood or burst pipe",
        patterns: &[
            p("बाढ़"),
            p("छत से पानी"),
            p("पानी छत|दीवार से"),
            p("पाइप फट"),
            p("पानी भर"),
            p("baadh|baarh|badh"),
            p("chhat|chat|chhath|chatt se paani|pani|paani_aa|pani_aa|tapak"),
            p("paani|pani chhat|chat|deewar|diwar se"),
            p("paani|pani tapak|bhar|ghus raha|rahi|gaya"),
            p("pipe phat|fat|toot gaya|gayi|gya"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports an injury or medical emergency",
        patterns: &[
            p("बेहोश|खून|एम्बुलेंस|एंबुलेंस"),
            p("सांस नहीं"),
            p("behosh|bahosh|khoon|khun"),
            p("saans|sans nahi|nahin|nai"),
            p("emergency hai"),
            p("इमरजेंसी|आपातकाल|आपात"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "tries to override the assistant's instructions",
        patterns: &[
            p("पिछले|सभी|सारे|पहले_के निर्देश|निर्देशों"),
            p("निर्देशों|निर्देश को? अनदेखा|नजरअंदाज|भूल|भूल_जाओ"),
            p("सिस्टम प्रॉम्प्ट|प्रोम्प्ट"),
            p(
                "pichle|purane|saare|sabhi|sare|pehle_ke|pehle_wale nirdesh|instructions|niyam|rules",
            ),
            p("nirdesh|instructions|rules ko? ignore|bhool|bhul|nazarandaz"),
            p("api key|chabi"),
            p("system prompt|prompt batao|dikhao"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports hacking or unauthorised access",
        patterns: &[
            p("हैक"),
            p("पासवर्ड|खाता|अकाउंट चोरी|हैक"),
            p("अनधिकृत"),
            p("hack ho|hua|kar|kiya|gaya|hogaya|kar_liya|ho_gaya|kiya_gaya"),
            p("password|otp|pin chori|leak|chura|churaya"),
            p("kisi ne mera|mere|meri account|password|card|khata|email"),
            p("password|otp|pin|account|card kisi ne"),
            p("chura liya|liye|li|lia|lee"),
            p("maine nahi kiya"),
            p("मैंने नहीं किया"),
            p("किसी ने मेरा|मेरे|मेरी"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports fraud or phishing",
        patterns: &[p("धोखाधड़ी|फ्रॉड|फ़्रॉड"), p("dhokhadhadi|dhokadhadi|fraud")],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions suing or legal action",
        patterns: &[
            p("मुकदमा|अदालत|कोर्ट"),
            p("कानूनी कार्रवाई|कार्यवाही"),
            p("केस करूंगा|करूँगा|करेंगे|करूंगी|कर_दूंगा"),
            p("mukadma|mukadama|mukaddama|muqadma"),
            p("court|adalat mein|me|jaunga|le_jaunga|le_jaenge|case"),
            p("case|kes kar|karunga|karungi|karenge|dunga|dungi|kar_dunga|thokunga|thok"),
            p("kanooni|kanuni karwai|karyavahi|action"),
            p("police mein complaint|shikayat"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions a lawyer",
        patterns: &[p("वकील"), p("vakil|wakil|vakeel|wakeel")],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "makes a complaint",
        patterns: &[
            p("शिकायत"),
            p("shikayat|shikaayat"),
            p("consumer forum|court"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "alleges a scam or rip-off",
        patterns: &[p("धोखा"), p("dhoka|dhokha|thagi|loot")],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "mentions a chargeback or payment dispute",
        patterns: &[p("chargeback|dispute")],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "demands a refund",
        patterns: &[p("पैसे वापस"), p("paise|paisa|pese wapas|vapas")],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "reports a wrong or failed charge",
        patterns: &[
            p("दो बार"),
            p("zyada|jyada|extra paise|charge|bill"),
            p("do|2|dobara baar? paise|charge|kat|kata|kaat|cut"),
            p("paise kat|kaat gaye|gaya|liye"),
            p("bill galat|zyada|jyada"),
            p("payment fail|failed|nahi_hua"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks for a refund",
        patterns: &[p("रिफंड|रिफ़ंड"), p("refund")],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks about invoices or bills",
        patterns: &[
            p("बिल"),
            p("bill mein|me|ka|ki|ko|galat|zyada|jyada|aaya|bheja"),
        ],
    },
    RuleSpec {
        intent: Intent::Privacy,
        reason: "exercises data protection rights",
        patterns: &[
            p("डेटा|जानकारी डिलीट|हटा|हटाएं|हटाओ|मिटा|मिटाएं|मिटाओ"),
            p("मेरा|मेरी डेटा|जानकारी"),
            p("mera|meri|mere data|jankari|jaankari delete|hatao|hata|mitao|mita"),
            p("data delete|hatao|hata|mitao|mita"),
            p("kya|kaunsa data|jankari|jaankari rakhte|store|save"),
            p("data bech|bechte|share"),
        ],
    },
    RuleSpec {
        intent: Intent::HumanRequested,
        reason: "asks for a human",
        patterns: &[
            p("इंसान|मैनेजर|एजेंट|व्यक्ति|आदमी से बात"),
            p("असली इंसान"),
            p("insaan|insan|aadmi|admi|banda|bande|manager|agent|executive|koi|kisi_se se? baat"),
            p("kisi insaan|insan|aadmi|asli|sahi"),
            p("asli insaan|insan|aadmi"),
            p("bot se nahi|nahin"),
        ],
    },
];
