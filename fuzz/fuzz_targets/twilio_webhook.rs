//! A Twilio webhook as an attacker could send it: any URL, any signature
//! header, any body. The parsers and verifiers must never panic, a form
//! never yields more parameters than the limit, a signature made for the
//! exact request always verifies, and a changed body never does.
//!
//! Input layout: `<url>\n<signature>\n<body>`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_telephony::opt_out;
use rampart_telephony::twilio_signature::{self as signature, SignatureError};

const TOKEN: &[u8] = b"fuzzing-auth-token";

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |byte| *byte == b'\n');
    let url = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let header = parts
        .next()
        .map(|raw| String::from_utf8_lossy(raw).into_owned());
    let body = parts.next().unwrap_or_default();

    let _ = signature::verify_json(TOKEN, &url, body, header.as_deref());
    let Ok(params) = signature::parse_form(body) else {
        return;
    };
    assert!(params.len() <= signature::MAX_FORM_PARAMS);
    let _ = signature::verify_form(TOKEN, &url, &params, header.as_deref());
    for (_, value) in &params {
        let _ = opt_out::classify(value);
    }

    let good = signature::sign(TOKEN, &url, &params);
    match signature::verify_form(TOKEN, &url, &params, Some(&good)) {
        Ok(()) | Err(SignatureError::InvalidUrl) => {}
        Err(other) => panic!("a signature made for the request was refused: {other:?}"),
    }
    if signature::verify_form(TOKEN, &url, &params, Some(&good)).is_ok() {
        let mut changed = params.clone();
        changed.push(("Injected".to_owned(), "1".to_owned()));
        assert!(signature::verify_form(TOKEN, &url, &changed, Some(&good)).is_err());
    }
});
