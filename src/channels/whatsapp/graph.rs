//! The Graph API calls pult makes for WhatsApp: send a message, upload a
//! document, look up and download media. Every call carries the Bearer token;
//! an error answer is read into its code, so the caller can tell a closed
//! 24-hour window (131047) from a rate limit (130429) or a dead token (190).

use serde_json::{Value, json};
use std::time::Duration;

/// Graph API error codes pult acts on.
pub mod codes {
    /// The access token expired or was revoked.
    pub const TOKEN: i64 = 190;
    /// More than 24 hours since the client last wrote (re-engagement message).
    pub const WINDOW_CLOSED: i64 = 131047;
    /// Cloud API throughput reached.
    pub const RATE_LIMIT: i64 = 130429;
    /// Too many messages to one person too fast.
    pub const PAIR_RATE_LIMIT: i64 = 131056;
    /// Application or account request limits.
    pub const APP_RATE_LIMITS: [i64; 4] = [4, 17, 32, 80007];
}

/// What an error code means, in words a person can act on (Meta's titles
/// are terse: "Re-engagement message"), in `lang`.
pub fn explain(lang: crate::i18n::Lang, code: i64) -> Option<&'static str> {
    let key = match code {
        codes::TOKEN => "wa_190",
        codes::WINDOW_CLOSED => "wa_131047",
        codes::RATE_LIMIT => "wa_130429",
        codes::PAIR_RATE_LIMIT => "wa_131056",
        131026 => "wa_131026",
        131051 => "wa_131051",
        131052 | 131053 => "wa_131052",
        131000 => "wa_131000",
        132000 | 132001 => "wa_132000",
        133010 => "wa_133010",
        368 => "wa_368",
        _ => return None,
    };
    Some(lang.tr(key))
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum GraphError {
    /// The API answered with an error object.
    #[error("WhatsApp error {code}: {message}")]
    Api { status: u16, code: i64, message: String },
    /// The request went out, but no answer came back, or one that is not the
    /// API's (a proxy's HTML page, a cut body): it may have been acted on.
    #[error("no answer from the WhatsApp API: {0}")]
    Network(String),
    /// The API could not be reached at all: nothing was sent.
    #[error("WhatsApp API unreachable: {0}")]
    Unreached(String),
    #[error("{0}")]
    Local(String),
}

impl GraphError {
    /// Kept with the message for people to read, in `lang`: English is the
    /// error itself (Meta's words and what they mean); Russian says what
    /// they mean and the code, and Meta's words go to the log.
    pub fn in_language(&self, lang: crate::i18n::Lang) -> String {
        if lang == crate::i18n::Lang::En {
            return self.to_string();
        }
        tracing::info!("{self}");
        match self {
            GraphError::Api { status, code, .. } => match explain(lang, *code) {
                Some(words) => format!("WhatsApp: {words} ({code})"),
                None if self.is_token() => format!("WhatsApp: {}", lang.tr("wa_190")),
                None => format!("{} ({})", lang.tr("wa_unknown"), if *code != 0 { *code } else { i64::from(*status) }),
            },
            GraphError::Network(_) => lang.tr("wa_no_answer").to_string(),
            GraphError::Unreached(raw) | GraphError::Local(raw) => crate::trouble::explain(lang, raw),
        }
    }

    pub fn code(&self) -> Option<i64> {
        match self {
            GraphError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn is_token(&self) -> bool {
        matches!(self, GraphError::Api { status: 401, .. }) || self.code() == Some(codes::TOKEN)
    }

    pub fn is_rate_limit(&self) -> bool {
        self.code().is_some_and(|c| {
            c == codes::RATE_LIMIT || c == codes::PAIR_RATE_LIMIT || codes::APP_RATE_LIMITS.contains(&c)
        }) || matches!(self, GraphError::Api { status: 429, .. })
    }
}

/// What the API says about a media id.
#[derive(Debug, Clone)]
pub struct MediaInfo {
    pub url: String,
    pub mime: String,
    pub size: Option<u64>,
}

#[derive(Clone)]
pub struct Graph {
    http: reqwest::Client,
    base: String,
    phone_number_id: String,
    token: String,
}

pub const DEFAULT_API: &str = "https://graph.facebook.com/v26.0";

impl Graph {
    pub fn new(base: Option<&str>, phone_number_id: &str, token: String) -> Result<Graph, GraphError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GraphError::Local(e.to_string()))?;
        let base = base.unwrap_or(DEFAULT_API).trim_end_matches('/').to_string();
        Ok(Graph { http, base, phone_number_id: phone_number_id.to_string(), token })
    }

    async fn answer(resp: Result<reqwest::Response, reqwest::Error>) -> Result<Value, GraphError> {
        let resp = resp.map_err(|e| {
            if e.is_connect() { GraphError::Unreached(without_url(&e)) } else { GraphError::Network(without_url(&e)) }
        })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| GraphError::Network(without_url(&e)))?;
        let value: Option<Value> = serde_json::from_slice(&bytes).ok();
        if let Some(err) = value.as_ref().and_then(|v| v.get("error")) {
            let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
            let mut message = err.get("message").and_then(Value::as_str).unwrap_or("error").to_string();
            if let Some(d) = err.pointer("/error_data/details").and_then(Value::as_str).filter(|d| *d != message) {
                message = format!("{message} ({d})");
            }
            if let Some(words) = explain(crate::i18n::Lang::En, code) {
                message = format!("{message} — {words}");
            }
            return Err(GraphError::Api { status, code, message: crate::sanitize::line(&message).into_owned() });
        }
        match value {
            Some(v) if (200..300).contains(&status) => Ok(v),
            _ => Err(GraphError::Network(format!("HTTP {status} without an API answer"))),
        }
    }

    /// Sends a text (`context` names the message it answers); returns the wamid.
    pub async fn send_text(&self, to: &str, body: &str, context: Option<&str>) -> Result<String, GraphError> {
        let mut msg = json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": "text", "text": {"body": body, "preview_url": false},
        });
        if let Some(id) = context {
            msg["context"] = json!({"message_id": id});
        }
        self.send(msg).await
    }

    /// Sends an approved template (`params` fill the body's {{1}}, {{2}} …); returns the wamid.
    pub async fn send_template(
        &self,
        to: &str,
        name: &str,
        language: &str,
        params: &[String],
    ) -> Result<String, GraphError> {
        let mut template = json!({"name": name, "language": {"code": language}});
        if !params.is_empty() {
            let parameters: Vec<Value> = params.iter().map(|p| json!({"type": "text", "text": p})).collect();
            template["components"] = json!([{"type": "body", "parameters": parameters}]);
        }
        self.send(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": "template", "template": template,
        }))
        .await
    }

    /// Tells WhatsApp a client message was read (blue ticks on the client's phone).
    pub async fn mark_read(&self, wamid: &str) -> Result<(), GraphError> {
        let url = format!("{}/{}/messages", self.base, self.phone_number_id);
        let body = json!({"messaging_product": "whatsapp", "status": "read", "message_id": wamid});
        Self::answer(self.http.post(url).bearer_auth(&self.token).json(&body).send().await).await.map(|_| ())
    }

    /// Uploads a file and sends it as a document; returns the wamid.
    pub async fn send_document(
        &self,
        to: &str,
        filename: &str,
        bytes: Vec<u8>,
        context: Option<&str>,
    ) -> Result<String, GraphError> {
        let filename = if filename.is_empty() { "document" } else { filename };
        // WhatsApp takes only its own list of document types.
        let mime = mime_for(filename);
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(filename.to_string())
            .mime_str(mime)
            .map_err(|e| GraphError::Local(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime.to_string())
            .part("file", part);
        let url = format!("{}/{}/media", self.base, self.phone_number_id);
        let up = Self::answer(self.http.post(url).bearer_auth(&self.token).multipart(form).send().await).await?;
        let media =
            up.get("id").and_then(Value::as_str).ok_or_else(|| GraphError::Network("upload gave no id".into()))?;
        let mut msg = json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": "document", "document": {"id": media, "filename": filename},
        });
        if let Some(id) = context {
            msg["context"] = json!({"message_id": id});
        }
        self.send(msg).await
    }

    async fn send(&self, msg: Value) -> Result<String, GraphError> {
        let url = format!("{}/{}/messages", self.base, self.phone_number_id);
        let v = Self::answer(self.http.post(url).bearer_auth(&self.token).json(&msg).send().await).await?;
        v.pointer("/messages/0/id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| GraphError::Network("the answer named no message id".into()))
    }

    /// Where a media id's bytes are (a URL valid for about 5 minutes).
    pub async fn media(&self, media_id: &str) -> Result<MediaInfo, GraphError> {
        if media_id.is_empty() || !media_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(GraphError::Local(format!("not a media id: {}", crate::sanitize::line(media_id))));
        }
        let url = format!("{}/{media_id}", self.base);
        let v = Self::answer(self.http.get(url).bearer_auth(&self.token).send().await).await?;
        Ok(MediaInfo {
            url: v.get("url").and_then(Value::as_str).unwrap_or("").to_string(),
            mime: v.get("mime_type").and_then(Value::as_str).unwrap_or("application/octet-stream").to_string(),
            size: v.get("file_size").and_then(|s| s.as_u64().or_else(|| s.as_str()?.parse().ok())),
        })
    }

    /// Downloads media bytes (with the token), refusing more than `max` bytes.
    pub async fn download(&self, url: &str, max: u64) -> Result<Vec<u8>, GraphError> {
        let parsed = url::Url::parse(url).map_err(|_| GraphError::Network("the media URL is not a URL".into()))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(GraphError::Network("the media URL is not http(s)".into()));
        }
        let mut resp = self
            .http
            .get(parsed)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| GraphError::Network(without_url(&e)))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(GraphError::Api { status, code: 0, message: format!("media download: HTTP {status}") });
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| GraphError::Network(without_url(&e)))? {
            if out.len() as u64 + chunk.len() as u64 > max {
                return Err(GraphError::Local(format!("larger than the {} MB limit (media_max_mb)", max >> 20)));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// The number as the API sees it (`pult doctor`).
    pub async fn number(&self) -> Result<String, GraphError> {
        let url = format!("{}/{}?fields=display_phone_number,verified_name", self.base, self.phone_number_id);
        let v = Self::answer(self.http.get(url).bearer_auth(&self.token).send().await).await?;
        let number = v.get("display_phone_number").and_then(Value::as_str).unwrap_or("?");
        let name = v.get("verified_name").and_then(Value::as_str).unwrap_or("");
        Ok(crate::sanitize::line(format!("{number} {name}").trim_end()).into_owned())
    }
}

/// The type WhatsApp is told a document has, by its name.
fn mime_for(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "txt" | "csv" | "xml" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// A reqwest error without its URL: media URLs carry signed query strings.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "(url)");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Lang, english_leak};

    #[test]
    fn errors_are_said_in_russian_with_their_code() {
        let undelivered = GraphError::Api { status: 400, code: 131026, message: "Message undeliverable".into() };
        let ru = undelivered.in_language(Lang::Ru);
        assert!(ru.contains("не доставлено") && ru.contains("131026") && english_leak(&ru).is_none(), "{ru}");
        assert!(undelivered.in_language(Lang::En).contains("Message undeliverable"));
        for code in [190, 131047, 130429, 131056, 131026, 131051, 131052, 131053, 131000, 132000, 132001, 133010, 368] {
            for lang in [Lang::En, Lang::Ru] {
                let words = explain(lang, code).expect("explained");
                assert!(!words.starts_with("wa_"), "{code}: {words}");
            }
            assert_eq!(english_leak(explain(Lang::Ru, code).unwrap_or_default()), None, "{code}");
        }
        for e in [
            GraphError::Api { status: 400, code: 999_999, message: "Something new".into() },
            GraphError::Api { status: 401, code: 0, message: "Invalid OAuth access token".into() },
            GraphError::Network("error decoding response body".into()),
            GraphError::Unreached("tcp connect error".into()),
            GraphError::Local("/tmp/x: Permission denied (os error 13)".into()),
        ] {
            let ru = e.in_language(Lang::Ru);
            assert_eq!(english_leak(&ru), None, "{e}: {ru}");
        }
    }
}
