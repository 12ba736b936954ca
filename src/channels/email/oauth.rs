//! Logging in with an OAuth2 access token: SASL OAUTHBEARER (RFC 7628) where
//! the server offers it, else XOAUTH2 (Google's and Microsoft's older form).
//! The token comes from the account's `oauth2_token_command`; it is never
//! logged, never put in an error, never stored by pult.

/// A SASL mechanism that carries a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    OAuthBearer,
    XOAuth2,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }

    /// The one to use among those a server lists (`AUTH=…` in IMAP, the
    /// words after `AUTH` in SMTP's EHLO): the standard OAUTHBEARER where
    /// offered, else XOAUTH2 (Microsoft 365 lists only XOAUTH2; a server that
    /// lists neither gets the one every big provider takes).
    pub fn choose<'a>(offered: impl IntoIterator<Item = &'a str>) -> Mechanism {
        if offered.into_iter().any(|m| m.eq_ignore_ascii_case("OAUTHBEARER")) {
            Mechanism::OAuthBearer
        } else {
            Mechanism::XOAuth2
        }
    }

    /// The client's first message (before base64).
    pub fn initial_response(self, user: &str, token: &str, host: &str, port: u16) -> Vec<u8> {
        match self {
            Mechanism::OAuthBearer => {
                // gs2 header with the authzid; commas and '=' in it are escaped (RFC 5801).
                let authz = user.replace('=', "=3D").replace(',', "=2C");
                format!("n,a={authz},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01").into_bytes()
            }
            Mechanism::XOAuth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes(),
        }
    }

    /// What the client answers to the server's error challenge so that the
    /// server can finish with its refusal: `%x01` for OAUTHBEARER (RFC 7628
    /// §3.2.3), nothing for XOAUTH2.
    pub fn after_error(self) -> &'static [u8] {
        match self {
            Mechanism::OAuthBearer => b"\x01",
            Mechanism::XOAuth2 => b"",
        }
    }
}

/// The IMAP AUTHENTICATE exchange: the token first, then the error answer.
pub struct Bearer {
    first: Option<Vec<u8>>,
    mechanism: Mechanism,
}

impl Bearer {
    pub fn new(mechanism: Mechanism, user: &str, token: &str, host: &str, port: u16) -> Bearer {
        Bearer { first: Some(mechanism.initial_response(user, token, host, port)), mechanism }
    }
}

impl async_imap::Authenticator for Bearer {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        self.first.take().unwrap_or_else(|| self.mechanism.after_error().to_vec())
    }
}

/// Standard base64 with padding (SMTP's AUTH line).
pub fn base64(bytes: &[u8]) -> String {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    super::mutf7::base64(bytes, STANDARD, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_messages_are_as_the_rfcs_write_them() {
        // RFC 7628 §4.1 and Google's XOAUTH2 page.
        let bearer =
            Mechanism::OAuthBearer.initial_response("user@example.com", "vF9dft4qmT", "server.example.com", 143);
        assert_eq!(
            bearer,
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmT\x01\x01"
        );
        let x = Mechanism::XOAuth2.initial_response(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
            "h",
            1,
        );
        assert_eq!(
            base64(&x),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
        assert_eq!(base64(b"\x01"), "AQ==");
    }

    #[test]
    fn the_mechanism_follows_what_the_server_offers() {
        assert_eq!(Mechanism::choose(["PLAIN", "XOAUTH2"]), Mechanism::XOAuth2);
        assert_eq!(Mechanism::choose(["OAUTHBEARER"]), Mechanism::OAuthBearer);
        assert_eq!(Mechanism::choose(["oauthbearer", "xoauth2"]), Mechanism::OAuthBearer);
        assert_eq!(Mechanism::choose([]), Mechanism::XOAuth2);
    }
}
