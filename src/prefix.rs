//! Text commands: `!rank`, `!top 2`, or `@Keeper rank` (a mention works as a prefix,
//! so the commands work without the privileged MESSAGE_CONTENT intent: Discord
//! always shows a bot the content of messages that mention it).

use twilight_model::id::{Id, marker::UserMarker};

/// A text command as typed: its name (lower-cased) and the rest of the line.
#[derive(Debug, PartialEq, Eq)]
pub struct TextCommand<'a> {
    pub name: String,
    pub args: &'a str,
}

/// Split `content` into a command if it starts with `prefix` or mentions `bot`
/// first. Returns `None` for ordinary chat.
pub fn parse<'a>(content: &'a str, prefix: &str, bot: Id<UserMarker>) -> Option<TextCommand<'a>> {
    let content = content.trim_start();
    let rest = strip_mention(content, bot).or_else(|| content.strip_prefix(prefix))?;
    let rest = rest.trim_start();
    let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if name.is_empty() {
        return None;
    }
    Some(TextCommand {
        name: name.to_lowercase(),
        args: args.trim(),
    })
}

fn strip_mention(content: &str, bot: Id<UserMarker>) -> Option<&str> {
    let rest = content.strip_prefix("<@")?;
    let rest = rest.strip_prefix('!').unwrap_or(rest);
    let rest = rest.strip_prefix(&bot.to_string())?;
    rest.strip_prefix('>')
}

/// Why a prefix can't be used, worded for the admin who typed it; `None` if it can.
pub fn validate(prefix: &str) -> Option<&'static str> {
    let len = prefix.chars().count();
    if len == 0 || len > 10 {
        return Some("A prefix must be 1 to 10 characters long.");
    }
    if prefix.chars().any(char::is_whitespace) {
        return Some("A prefix can't contain spaces.");
    }
    if prefix.contains("<@")
        || prefix.contains("<#")
        || prefix.contains("@everyone")
        || prefix.contains("@here")
    {
        return Some("A prefix can't contain a mention.");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: Id<UserMarker> = Id::new(777);

    fn cmd(name: &str, args: &'static str) -> Option<TextCommand<'static>> {
        Some(TextCommand {
            name: name.into(),
            args,
        })
    }

    #[test]
    fn prefix_commands() {
        assert_eq!(parse("!rank", "!", BOT), cmd("rank", ""));
        assert_eq!(parse("!TOP  2 ", "!", BOT), cmd("top", "2"));
        assert_eq!(parse("  !rank <@5>", "!", BOT), cmd("rank", "<@5>"));
        assert_eq!(parse("k!help", "k!", BOT), cmd("help", ""));
        assert_eq!(parse("! rank", "!", BOT), cmd("rank", ""));
    }

    #[test]
    fn mention_prefix() {
        assert_eq!(parse("<@777> rank", "!", BOT), cmd("rank", ""));
        assert_eq!(parse("<@!777>top 3", "!", BOT), cmd("top", "3"));
        assert_eq!(parse("<@778> rank", "!", BOT), None);
        assert_eq!(parse("<@777>", "!", BOT), None);
    }

    #[test]
    fn ordinary_chat_is_not_a_command() {
        assert_eq!(parse("hello !rank", "!", BOT), None);
        assert_eq!(parse("!", "!", BOT), None);
        assert_eq!(parse("", "!", BOT), None);
        assert_eq!(parse("?rank", "!", BOT), None);
    }

    #[test]
    fn prefix_rules() {
        assert_eq!(validate("!"), None);
        assert_eq!(validate("keeper!"), None);
        assert!(validate("").is_some());
        assert!(validate("elevenchars").is_some());
        assert!(validate("a b").is_some());
        assert!(validate("<@12>").is_some());
        assert!(validate("@everyone").is_some());
        assert!(validate("<#1>").is_some());
    }
}
