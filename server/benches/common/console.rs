//! A browser of the console for the benchmarks: a cookie jar over reqwest that signs in, and
//! pages read with the server's own time for them (their `Server-Timing` header).

// Only some benchmarks sign in to the console or load a roster.
#![allow(dead_code)]

use std::collections::HashMap;

/// A browser's cookie jar over reqwest, enough to sign in.
pub struct Session {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
}

impl Session {
    pub fn new(base: &str) -> Session {
        Session {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookies: HashMap::new(),
        }
    }

    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    pub async fn sign_in(&mut self, username: &str, password: &str) {
        let r = self
            .http
            .get(format!("{}/console/login", self.base))
            .send()
            .await
            .expect("login page");
        self.keep(&r);
        let page = r.text().await.expect("body");
        let token = csrf_of(&page);
        let form = serde_urlencoded::to_string([
            ("username", username),
            ("password", password),
            ("csrf", token.as_str()),
        ])
        .expect("form");
        let r = self
            .http
            .post(format!("{}/console/login", self.base))
            .header("cookie", self.header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("sign in");
        assert_eq!(r.status(), 303, "signed in");
        self.keep(&r);
    }

    /// The page's body and the server's own time for it.
    pub async fn page(&self, path: &str) -> (String, f64) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.header())
            .send()
            .await
            .expect("page");
        timed(path, r).await
    }

    /// Posts `form` (with the session's CSRF token) to `path`: the answer's body and the
    /// server's own time for it.
    pub async fn post(&self, path: &str, token: &str, form: &[(&str, &str)]) -> (String, f64) {
        let mut fields = form.to_vec();
        fields.push(("csrf", token));
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&fields).expect("form"))
            .send()
            .await
            .expect("post");
        timed(path, r).await
    }
}

/// The CSRF token of the first form on a page.
pub fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let at = page.find(marker).expect("token") + marker.len();
    page[at..at + page[at..].find('"').expect("end")].to_owned()
}

/// The body of an answer that must be a page, and the server's time for it.
async fn timed(path: &str, r: reqwest::Response) -> (String, f64) {
    let status = r.status();
    let ms = r
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("app;dur="))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("Server-Timing");
    let body = r.text().await.expect("body");
    assert_eq!(status, 200, "{path}: {body}");
    (body, ms)
}
