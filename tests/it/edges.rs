//! What a client (or a misbehaving IdP) can send to sidegate's own endpoints: bodies warp
//! refuses are answered with warp's own 4xx, never 500, against the real OpenID Provider.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{sidegate, Idp, Sidegate};

/// Sends `request` as raw bytes and returns the status code of the answer.
async fn raw_status(addr: SocketAddr, request: &[u8]) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(2).any(|w| w == b"\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before a status line: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&got);
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn backchannel_logout_bad_bodies_get_warps_4xx_not_500() {
    let idp = Idp::start(&["http://auth.example.test/callback".into()]).await;
    let sg = Sidegate::start(sidegate::vars(
        "http://auth.example.test",
        &idp.issuer(),
        None,
    ))
    .await;
    sg.wait_ready().await;
    let head =
        "POST /backchannel-logout HTTP/1.1\r\nHost: auth.example.test\r\nConnection: close\r\n";
    let big = "logout_token=".to_owned() + &"a".repeat(70 * 1024);
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "a body over 64 KiB",
            format!(
                "{head}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{big}",
                big.len()
            ),
            413,
        ),
        (
            "a JSON body",
            format!(
                "{head}Content-Type: application/json\r\nContent-Length: 21\r\n\r\n{{\"logout_token\":\"x\"}}"
            ),
            415,
        ),
        (
            "a chunked body without Content-Length",
            format!(
                "{head}Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n e\r\nlogout_token=x\r\n0\r\n\r\n"
            ),
            411,
        ),
        (
            "no body",
            format!("{head}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n"),
            400,
        ),
    ];
    for (what, request, want) in cases {
        let got = raw_status(sg.addr, request.as_bytes()).await;
        assert_eq!(got, want, "{what}");
    }
    sg.stop().await;
}
