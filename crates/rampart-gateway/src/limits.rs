//! Limits on what a request body may ask of the gateway.
//!
//! The body size is bounded by [`crate::Config::body_limit`]; nesting is
//! bounded here, before the parser runs, so that no request body can make
//! the gateway recurse deeply. serde_json's own recursion limit (128) would
//! also stop it, but no Rampart request needs more than a few levels, and a
//! tighter, explicit limit gives a clear error.

/// The deepest nesting of arrays and objects a JSON body may have.
pub const MAX_JSON_DEPTH: usize = 32;

/// Whether the arrays and objects in `json` nest at most `max` deep. A
/// single pass over the bytes, skipping strings; it does not check that the
/// JSON is well formed (the parser does that next).
#[must_use]
pub fn json_depth_within(json: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    }

    #[test]
    fn depth_is_counted_across_arrays_and_objects() {
        assert!(json_depth_within(nested(32).as_bytes(), 32));
        assert!(!json_depth_within(nested(33).as_bytes(), 32));
        assert!(json_depth_within(b"{\"name\":\"x\"}", 1));
        assert!(!json_depth_within(b"{\"a\":{}}", 1));
        assert!(json_depth_within(b"", 0));
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let text = format!(
            "{{\"name\":\"{}\\\"{}\"}}",
            "[".repeat(100),
            "{".repeat(100)
        );
        assert!(json_depth_within(text.as_bytes(), 1));
    }
}
