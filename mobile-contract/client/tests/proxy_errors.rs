//! A proxy between phone and server may answer with a page of its own (nginx's HTML 502). The
//! client must read that as an answer with a status — retried like any 5xx — not as a broken
//! connection or a garbled body.

#![allow(clippy::unwrap_used)]

use fieldsync_client::{Api, ClientError};
use fieldsync_protocol::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn proxy_answering(status_line: &'static str, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0; 65536];
            let _ = s.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 {status_line}\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_html_502_from_a_proxy_is_a_server_error_not_a_decoding_failure() {
    let base = proxy_answering(
        "502 Bad Gateway",
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    )
    .await;
    let api = Api::new(&base, uuid::Uuid::now_v7());
    let err = api
        .get_json::<serde_json::Value>("/v1/forms")
        .await
        .unwrap_err();
    match &err {
        ClientError::Api { status, body } => {
            assert_eq!(status.as_u16(), 502);
            assert_eq!(body.error.code, ErrorCode::Unavailable);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.code(), Some(ErrorCode::Unavailable));
}

#[tokio::test]
async fn a_bodyless_4xx_from_a_proxy_keeps_its_status() {
    let base = proxy_answering("413 Request Entity Too Large", "").await;
    let api = Api::new(&base, uuid::Uuid::now_v7());
    match api.get_json::<serde_json::Value>("/v1/forms").await {
        Err(ClientError::Api { status, body }) => {
            assert_eq!(status.as_u16(), 413);
            assert_eq!(body.error.code, ErrorCode::InvalidRequest);
        }
        other => panic!("{other:?}"),
    }
}
