//! Message templates set by server admins: `{user}`, `{username}`, `{server}`,
//! `{level}`, `{member_count}`. Unknown placeholders stay exactly as typed (so
//! `{USER}` or `{whatever}` is visible to the admin rather than silently eaten), and
//! the result is capped at Discord's 2,000 characters.

/// The most characters Discord accepts in a message's content.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// The values a template may use; `None` leaves that placeholder as typed.
#[derive(Clone, Debug, Default)]
pub struct Vars<'a> {
    /// The mention of the member concerned, `<@id>`.
    pub user: Option<&'a str>,
    pub username: Option<&'a str>,
    pub server: Option<&'a str>,
    pub level: Option<i32>,
    pub member_count: Option<u64>,
}

impl Vars<'_> {
    fn value(&self, name: &str) -> Option<String> {
        match name {
            "user" => self.user.map(str::to_owned),
            "username" => self.username.map(str::to_owned),
            "server" => self.server.map(str::to_owned),
            "level" => self.level.map(|l| l.to_string()),
            "member_count" => self.member_count.map(|n| n.to_string()),
            _ => None,
        }
    }
}

/// Fill the placeholders of `template` in one pass (a value containing `{level}`
/// is never expanded again) and cap the result at [`MAX_MESSAGE_CHARS`].
pub fn render(template: &str, vars: &Vars<'_>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if after[..close]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_') =>
            {
                let name = &after[..close];
                match vars.value(name) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    truncate_chars(out, MAX_MESSAGE_CHARS)
}

/// Cut `text` to at most `max` characters, marking the cut with an ellipsis.
pub fn truncate_chars(mut text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let cut = text
        .char_indices()
        .nth(max - 1)
        .map_or(text.len(), |(i, _)| i);
    text.truncate(cut);
    text.push('…');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars {
            user: Some("<@42>"),
            username: Some("alice"),
            server: Some("Rustaceans"),
            level: Some(5),
            member_count: Some(1234),
        }
    }

    #[test]
    fn fills_every_placeholder() {
        assert_eq!(
            render(
                "{user} ({username}) reached {level} in {server}, #{member_count}",
                &vars()
            ),
            "<@42> (alice) reached 5 in Rustaceans, #1234"
        );
        assert_eq!(render("{user}{user}", &vars()), "<@42><@42>");
    }

    #[test]
    fn unknown_and_broken_placeholders_stay_as_typed() {
        assert_eq!(
            render("hi {USER} {nick} {} {user", &vars()),
            "hi {USER} {nick} {} {user"
        );
        assert_eq!(render("{{user}}", &vars()), "{<@42>}");
        assert_eq!(render("no placeholders", &vars()), "no placeholders");
        assert_eq!(render("{level}", &Vars::default()), "{level}");
    }

    #[test]
    fn values_are_not_expanded_again() {
        let v = Vars {
            username: Some("{server}"),
            ..vars()
        };
        assert_eq!(render("{username}", &v), "{server}");
    }

    #[test]
    fn output_is_capped_at_2000_characters() {
        let v = Vars {
            username: Some(&"é".repeat(1_500)),
            ..vars()
        };
        let out = render("{username}{username}", &v);
        assert_eq!(out.chars().count(), MAX_MESSAGE_CHARS);
        assert!(out.ends_with('…'));
        let exact = "x".repeat(MAX_MESSAGE_CHARS);
        assert_eq!(render(&exact, &vars()), exact);
    }
}
