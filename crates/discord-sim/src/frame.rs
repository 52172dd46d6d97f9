//! Gateway frame encoding.
//!
//! twilight finds `"op":`, `"s":` and `"t":` by substring search before it
//! parses `d`, so frames are written by hand with those keys first (a
//! `serde_json::Value` would sort `d` to the front).

use std::fmt::Write;

/// `{"op":0,"s":seq,"t":"T","d":d}`.
pub fn dispatch(seq: u64, t: &str, d: &str) -> String {
    let mut s = String::with_capacity(d.len() + t.len() + 40);
    let _ = write!(s, r#"{{"op":0,"s":{seq},"t":"{t}","d":"#);
    s.push_str(d);
    s.push('}');
    s
}

/// A non-dispatch frame: `{"op":op,"s":null,"t":null,"d":d}`.
pub fn op(op: u8, d: &str) -> String {
    format!(r#"{{"op":{op},"s":null,"t":null,"d":{d}}}"#)
}

/// HELLO.
pub fn hello(heartbeat_interval_ms: u128) -> String {
    op(
        10,
        &format!(r#"{{"heartbeat_interval":{heartbeat_interval_ms}}}"#),
    )
}

/// HEARTBEAT_ACK.
pub fn heartbeat_ack() -> String {
    op(11, "null")
}

/// RECONNECT.
pub fn reconnect() -> String {
    op(7, "null")
}

/// INVALID_SESSION; `resumable` is `d`.
pub fn invalid_session(resumable: bool) -> String {
    op(9, if resumable { "true" } else { "false" })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_precede_payload() {
        let f = super::dispatch(3, "READY", r#"{"a":1}"#);
        assert_eq!(f, r#"{"op":0,"s":3,"t":"READY","d":{"a":1}}"#);
        assert!(super::heartbeat_ack().starts_with(r#"{"op":11,"s":null,"t":null,"#));
    }
}
