//! A raw gateway client (tokio-tungstenite) for protocol-level tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::WAIT;

pub enum Recv {
    Frame(Value),
    Close(u16),
    /// The connection ended without a close frame.
    End,
}

impl std::fmt::Debug for Recv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Frame(v) => write!(f, "Frame({v})"),
            Self::Close(c) => write!(f, "Close({c})"),
            Self::End => write!(f, "End"),
        }
    }
}

pub struct RawGateway {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    zlib: flate2::Decompress,
    zstd: zstd_safe::DCtx<'static>,
    pub compress: &'static str,
}

impl RawGateway {
    /// Connect with `compress` = "", "zlib-stream" or "zstd-stream"; returns
    /// the client and HELLO's `d`.
    pub async fn connect(url: &str, compress: &'static str) -> (Self, Value) {
        let mut uri = format!("{url}/?v=10&encoding=json");
        if !compress.is_empty() {
            uri.push_str(&format!("&compress={compress}"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(uri)
            .await
            .expect("ws connect");
        let mut c = Self {
            ws,
            zlib: flate2::Decompress::new(true),
            zstd: zstd_safe::DCtx::create(),
            compress,
        };
        let hello = match c.recv().await {
            Recv::Frame(v) => v,
            other => panic!("expected HELLO, got {other:?}"),
        };
        assert_eq!(hello["op"], 10);
        (c, hello["d"].clone())
    }

    /// A session on `sim`'s only shard ([0, 1]) with `intents`, past its
    /// first GUILD_CREATE (returned, the whole frame).
    pub async fn in_a_guild(sim: &discord_sim::Sim, intents: u64) -> (Self, Value) {
        let (mut gw, _) = Self::connect(&sim.gateway_url(), "").await;
        gw.identify(&sim.token(), intents, [0, 1]).await;
        let created = gw.next_dispatch("GUILD_CREATE").await;
        (gw, created)
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    pub async fn send(&mut self, v: &Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn identify(&mut self, token: &str, intents: u64, shard: [u32; 2]) {
        self.send(&json!({"op": 2, "d": {
            "token": token,
            "intents": intents,
            "shard": shard,
            "properties": {"os": "linux", "browser": "test", "device": "test"},
        }}))
        .await;
    }

    /// The next frame (decompressed), close code, or end.
    pub async fn recv(&mut self) -> Recv {
        loop {
            let msg = match tokio::time::timeout(WAIT, self.ws.next()).await {
                Err(_) => panic!("no gateway message within {WAIT:?}"),
                Ok(None) | Ok(Some(Err(_))) => return Recv::End,
                Ok(Some(Ok(m))) => m,
            };
            let text = match msg {
                Message::Text(t) => t.as_str().to_owned(),
                Message::Binary(b) => self.inflate(&b),
                Message::Close(f) => {
                    // Echo, as a well-behaved client does.
                    let code = f.as_ref().map_or(1005, |f| u16::from(f.code));
                    let _ = self.ws.close(None).await;
                    return Recv::Close(code);
                }
                _ => continue,
            };
            let v: Value = serde_json::from_str(&text).expect("frame is JSON");
            // Frames must name op, s, t before d (twilight relies on it).
            let d = text.find("\"d\":").expect("d");
            for key in ["\"op\":", "\"s\":", "\"t\":"] {
                let at = text.find(key).unwrap_or_else(|| panic!("{key} in {text}"));
                assert!(at < d, "{key} after d in {text}");
            }
            return Recv::Frame(v);
        }
    }

    /// The next dispatch of type `t`, skipping others (and ACKs).
    pub async fn next_dispatch(&mut self, t: &str) -> Value {
        loop {
            match self.recv().await {
                Recv::Frame(v) if v["t"] == t => return v,
                Recv::Frame(_) => {}
                other => panic!("waiting for {t}, got {other:?}"),
            }
        }
    }

    /// The next frame with opcode `op`, skipping others; panics on a close.
    pub async fn next_op(&mut self, op: u64) -> Value {
        loop {
            match self.recv().await {
                Recv::Frame(v) if v["op"] == op => return v,
                Recv::Frame(_) => {}
                other => panic!("waiting for op {op}, got {other:?}"),
            }
        }
    }

    /// Send RESUME for `session_id` after `seq`.
    pub async fn resume(&mut self, token: &str, session_id: &str, seq: u64) {
        self.send(&json!({"op": 6, "d": {"token": token, "session_id": session_id, "seq": seq}}))
            .await;
    }

    /// Read until a close frame or the end; the close code if any.
    pub async fn expect_close(&mut self) -> Option<u16> {
        loop {
            match self.recv().await {
                Recv::Close(c) => return Some(c),
                Recv::End => return None,
                Recv::Frame(_) => {}
            }
        }
    }

    fn inflate(&mut self, data: &[u8]) -> String {
        match self.compress {
            "zlib-stream" => {
                assert!(
                    data.ends_with(&[0, 0, 0xff, 0xff]),
                    "zlib frame without sync flush"
                );
                let mut out = Vec::with_capacity(data.len() * 8 + 1024);
                let start = self.zlib.total_in();
                loop {
                    let consumed = (self.zlib.total_in() - start) as usize;
                    self.zlib
                        .decompress_vec(&data[consumed..], &mut out, flate2::FlushDecompress::Sync)
                        .expect("inflate");
                    let consumed = (self.zlib.total_in() - start) as usize;
                    if consumed == data.len() && out.len() < out.capacity() {
                        break;
                    }
                    out.reserve(out.capacity().max(1024));
                }
                String::from_utf8(out).expect("utf8")
            }
            "zstd-stream" => {
                let mut out: Vec<u8> = Vec::with_capacity(data.len() * 16 + 4096);
                let mut input = zstd_safe::InBuffer::around(data);
                while input.pos() < data.len() {
                    if out.capacity() - out.len() < 1024 {
                        out.reserve(out.capacity());
                    }
                    let len = out.len();
                    let mut ob = zstd_safe::OutBuffer::around_pos(&mut out, len);
                    self.zstd
                        .decompress_stream(&mut ob, &mut input)
                        .expect("zstd");
                }
                String::from_utf8(out).expect("utf8")
            }
            _ => panic!("binary frame without compression"),
        }
    }

    pub async fn close(mut self, code: u16) {
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let _ = self
            .ws
            .close(Some(CloseFrame {
                code: code.into(),
                reason: "".into(),
            }))
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}
