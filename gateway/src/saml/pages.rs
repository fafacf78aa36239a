//! The pages people see during a SAML sign-in, in English and Japanese: the hand-off page that
//! posts the response to the SP (auto-submitted by a script the Content-Security-Policy allows
//! by its hash; a button without JavaScript), and the error page. Plain server-rendered HTML:
//! labelled, keyboard-usable, black on white.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::xml::escape_html;

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// The `lang` attribute.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ja => "ja",
        }
    }

    /// The preferred supported language of an `Accept-Language` header (RFC 9110 §12.5.4),
    /// or `default`.
    pub fn negotiate(accept_language: Option<&str>, default: Self) -> Self {
        let Some(header) = accept_language else {
            return default;
        };
        let mut best: Option<(u16, Self)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .map_or(1000, |q| {
                    (q.parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0) * 1000.0) as u16
                });
            let lang = match tag.split('-').next() {
                Some("ja") => Self::Ja,
                Some("en") => Self::En,
                _ => continue,
            };
            if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(default, |(_, l)| l)
    }
}

/// A page and the headers that must go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// `Content-Security-Policy`.
    pub csp: String,
    /// The HTML.
    pub html: String,
}

const SUBMIT_SCRIPT: &str = "document.forms[0].submit();";
const STYLE: &str = "body{font-family:system-ui,sans-serif;color:#111;background:#fff;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.5}button,input{font-size:1rem;padding:.5em}input[type=text],input[type=password]{width:100%;max-width:24em;border:1px solid #555}:focus{outline:3px solid #0b57d0;outline-offset:2px}.err{color:#a50e0e;font-weight:bold}small{color:#333}";

fn hash(text: &str) -> String {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

fn hashes() -> &'static (String, String) {
    static H: OnceLock<(String, String)> = OnceLock::new();
    H.get_or_init(|| (hash(SUBMIT_SCRIPT), hash(STYLE)))
}

/// The page that posts `field` (`SAMLResponse`) to `action` with `relay_state`.
pub fn post(
    lang: Lang,
    tenant: &str,
    action: &str,
    field: &str,
    value: &str,
    relay_state: Option<&str>,
) -> Page {
    let (scripts, styles) = hashes();
    let (title, text, button) = match lang {
        Lang::En => (
            "Signing you in",
            "You are being signed in to the application.",
            "Continue",
        ),
        Lang::Ja => (
            "サインインしています",
            "アプリケーションにサインインしています。",
            "続行",
        ),
    };
    let relay = relay_state
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                escape_html(r)
            )
        })
        .unwrap_or_default();
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} - {tenant}</title><style>{STYLE}</style></head><body>\
<main><h1>{tenant}</h1><form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"{field}\" value=\"{value}\">{relay}\
<p>{text}</p><noscript><button type=\"submit\">{button}</button></noscript></form></main>\
<script>{SUBMIT_SCRIPT}</script></body></html>\n",
        lang = lang.tag(),
        tenant = escape_html(tenant),
        action = escape_html(action),
        field = escape_html(field),
        value = escape_html(value),
    );
    Page {
        status: 200,
        // No `form-action`: browsers apply it to the redirects after the POST too, and SPs
        // redirect from their ACS to anywhere. The form's action is ours, not injected.
        csp: format!(
            "default-src 'none'; script-src {scripts}; style-src {styles}; base-uri 'none'; frame-ancestors 'none'"
        ),
        html,
    }
}

/// The error page (an unknown SP, a request that cannot be answered safely).
pub fn error(lang: Lang, tenant: &str, status: u16) -> Page {
    error_page(lang, tenant, status, None)
}

/// The error page for a sign-in form posted after its state expired: the same page, led by
/// the reason (the user can act on it).
pub fn expired(lang: Lang, tenant: &str) -> Page {
    let lead = match lang {
        Lang::En => "The sign-in page expired. Go back to the application and sign in again.",
        Lang::Ja => "サインインページの有効期限が切れました。アプリケーションに戻ってもう一度サインインしてください。",
    };
    error_page(lang, tenant, 400, Some(lead))
}

fn error_page(lang: Lang, tenant: &str, status: u16, lead: Option<&str>) -> Page {
    let (_, styles) = hashes();
    let (title, text) = match lang {
        Lang::En => (
            "Sign-in request refused",
            "The application sent a sign-in request this sign-in service cannot accept. Go back to the application and try again; if this keeps happening, contact your administrator and mention the time.",
        ),
        Lang::Ja => (
            "サインイン要求を受け付けられません",
            "アプリケーションから受け付けられないサインイン要求が送られました。アプリケーションに戻ってもう一度お試しください。繰り返し表示される場合は、この時刻を添えて管理者に連絡してください。",
        ),
    };
    Page {
        status,
        csp: format!("default-src 'none'; style-src {styles}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        html: format!(
            "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} - {tenant}</title><style>{STYLE}</style></head><body><main><h1>{title}</h1>\
{lead}<p>{text}</p><p>{tenant}</p></main></body></html>\n",
            lang.tag(),
            tenant = escape_html(tenant),
            lead = lead.map_or(String::new(), |l| format!("<p>{}</p>", escape_html(l))),
        ),
    }
}

/// A message on the login form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMessage {
    /// The name or the password is wrong (or the account cannot sign in): one generic text,
    /// so the form does not tell whether an account exists.
    Failed,
    /// Too many failed attempts: try again in this many minutes.
    Locked {
        /// Minutes to wait, rounded up.
        minutes: i64,
    },
    /// The form was open too long, or came from elsewhere: sign in again.
    Expired,
}

fn login_message(lang: Lang, m: LoginMessage) -> String {
    match (lang, m) {
        (Lang::En, LoginMessage::Failed) => "The user name or password is incorrect.".into(),
        (Lang::Ja, LoginMessage::Failed) => "ユーザー名またはパスワードが正しくありません。".into(),
        (Lang::En, LoginMessage::Locked { minutes }) => format!(
            "Too many failed sign-in attempts. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        ),
        (Lang::Ja, LoginMessage::Locked { minutes }) => {
            format!("サインインの失敗が多すぎます。{minutes} 分後にもう一度お試しください。")
        }
        (Lang::En, LoginMessage::Expired) => {
            "The sign-in page expired. Please sign in again.".into()
        }
        (Lang::Ja, LoginMessage::Expired) => {
            "サインインページの有効期限が切れました。もう一度サインインしてください。".into()
        }
    }
}

/// The password form for a computer that cannot sign in with Kerberos. `state` is the sealed
/// SAML request; `user` the name typed before (kept after a failure).
pub fn login(
    lang: Lang,
    tenant: &str,
    status: u16,
    state: &str,
    user: &str,
    message: Option<LoginMessage>,
) -> Page {
    let (_, styles) = hashes();
    let (title, user_label, password_label, button, hint) = match lang {
        Lang::En => (
            "Sign in",
            "User name",
            "Password",
            "Sign in",
            "Your company account: alice@example.com, EXAMPLE\\alice or alice.",
        ),
        Lang::Ja => (
            "サインイン",
            "ユーザー名",
            "パスワード",
            "サインイン",
            "会社のアカウント: alice@example.com、EXAMPLE\\alice または alice",
        ),
    };
    let alert = message
        .map(|m| {
            format!(
                "<p id=\"msg\" role=\"alert\" class=\"err\">{}</p>",
                escape_html(&login_message(lang, m))
            )
        })
        .unwrap_or_default();
    let described = if message.is_some() {
        " aria-describedby=\"msg\""
    } else {
        ""
    };
    Page {
        status,
        csp: format!(
            "default-src 'none'; style-src {styles}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        ),
        html: format!(
            "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} - {tenant}</title><style>{STYLE}</style></head><body><main>\
<h1>{tenant}</h1><h2>{title}</h2>{alert}\
<form method=\"post\" action=\"/saml/login\">\
<input type=\"hidden\" name=\"state\" value=\"{state}\">\
<p><label for=\"username\">{user_label}</label><br>\
<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" \
autocapitalize=\"none\" spellcheck=\"false\" required value=\"{user}\" aria-describedby=\"hint\"{described}><br>\
<small id=\"hint\">{hint}</small></p>\
<p><label for=\"password\">{password_label}</label><br>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p>\
<p><button type=\"submit\">{button}</button></p></form></main></body></html>\n",
            lang = lang.tag(),
            tenant = escape_html(tenant),
            state = escape_html(state),
            user = escape_html(user),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(Lang::negotiate(None, Lang::Ja), Lang::Ja);
        assert_eq!(
            Lang::negotiate(Some("ja-JP,ja;q=0.9,en;q=0.8"), Lang::En),
            Lang::Ja
        );
        assert_eq!(
            Lang::negotiate(Some("fr, en-US;q=0.5, ja;q=0.4"), Lang::Ja),
            Lang::En
        );
        assert_eq!(Lang::negotiate(Some("de, fr"), Lang::Ja), Lang::Ja);
        assert_eq!(
            Lang::negotiate(Some("ja;q=0, en;q=0.1"), Lang::Ja),
            Lang::En
        );
        assert_eq!(Lang::negotiate(Some("ja;q=abc"), Lang::En), Lang::En);
    }

    #[test]
    fn the_post_page_escapes_everything_and_allows_only_its_script() {
        let p = post(
            Lang::En,
            "Corp <Test>",
            "https://sp/acs?a=1&b=\"",
            "SAMLResponse",
            "PHg+",
            Some("\"><script>x</script>"),
        );
        assert!(p
            .html
            .contains("action=\"https://sp/acs?a=1&amp;b=&quot;\""));
        assert!(p
            .html
            .contains("value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(p
            .html
            .contains("<title>Signing you in - Corp &lt;Test&gt;</title>"));
        assert_eq!(p.html.matches("<script>").count(), 1);
        assert!(p
            .html
            .contains("<noscript><button type=\"submit\">Continue</button></noscript>"));
        assert!(p.csp.contains(&hash(SUBMIT_SCRIPT)));
        assert!(!p.csp.contains("form-action"));
        assert!(p.csp.starts_with("default-src 'none'"));
        let ja = post(Lang::Ja, "t", "https://sp/acs", "SAMLResponse", "x", None);
        assert!(ja.html.contains("lang=\"ja\"") && ja.html.contains("続行"));
        assert!(!ja.html.contains("RelayState"));
    }

    #[test]
    fn the_login_form_is_labelled_and_escapes_what_it_echoes() {
        let p = login(
            Lang::En,
            "Corp",
            200,
            "st\"ate",
            "<b>bob</b>",
            Some(LoginMessage::Locked { minutes: 1 }),
        );
        assert!(p.html.contains("<label for=\"username\">User name</label>"));
        assert!(p.html.contains("<label for=\"password\">Password</label>"));
        assert!(p.html.contains("value=\"&lt;b&gt;bob&lt;/b&gt;\""));
        assert!(p.html.contains("value=\"st&quot;ate\""));
        assert!(p.html.contains("role=\"alert\""));
        assert!(p.html.contains("Try again in 1 minute."));
        assert!(!p.html.contains("<script"));
        assert!(p.csp.contains("form-action 'self'"));
        let ja = login(Lang::Ja, "Corp", 200, "s", "", Some(LoginMessage::Failed));
        assert!(ja.html.contains("パスワードが正しくありません"));
        assert!(ja
            .html
            .contains("<label for=\"password\">パスワード</label>"));
    }

    #[test]
    fn the_error_page_says_nothing_about_the_request() {
        let p = error(Lang::Ja, "Corp", 400);
        assert_eq!(p.status, 400);
        assert!(p.html.contains("lang=\"ja\""));
        assert!(p.csp.contains("form-action 'none'"));
        assert!(!p.csp.contains("script-src"));
    }

    #[test]
    fn the_expired_page_leads_with_the_reason() {
        let p = expired(Lang::En, "Corp <Test>");
        assert_eq!(p.status, 400);
        let reason = p
            .html
            .find("The sign-in page expired.")
            .expect("the reason");
        let h1 = p.html.find("</h1>").expect("the title");
        assert!(h1 < reason && reason < p.html.find("The application sent").expect("text"));
        assert!(p.html.contains("Corp &lt;Test&gt;"));
        assert!(!error(Lang::En, "Corp", 400).html.contains("expired"));
    }
}
