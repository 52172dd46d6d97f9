//! `!help`: the text commands and where the admin commands are, made from the
//! registry so it can't fall behind it.

use futures_util::FutureExt as _;

use super::{
    BAN_MEMBERS, COMMANDS, KICK_MEMBERS, MANAGE_SERVER, MODERATE_MEMBERS, Reply, Spec, Text,
};

pub const NAME: &str = "help";

pub const SPEC: Spec = Spec {
    name: NAME,
    permission: None,
    private: false,
    slash: None,
    text: Some(TEXT),
    button: None,
};

const TEXT: Text = Text {
    name: NAME,
    aliases: &[],
    usage: "",
    example: "",
    help: "this list",
    run: |_, inv| std::future::ready(Ok(Reply::text(help(inv.prefix)))).boxed(),
};

/// The help text for a guild whose prefix is `prefix`.
pub fn help(prefix: &str) -> String {
    let mut lines = vec!["**Keeper** counts XP as you chat.".to_owned()];
    for spec in COMMANDS.iter().filter(|s| s.name != NAME) {
        let Some(text) = &spec.text else { continue };
        let typed = format!("{prefix}{} {}", text.name, text.usage);
        let slash = match spec.slash {
            Some(_) => format!(" (or `/{}`)", spec.name),
            None => String::new(),
        };
        let needs = match spec.permission {
            Some(p) => format!(" ({})", p.name),
            None => String::new(),
        };
        lines.push(format!(
            "`{}`{slash}: {}{needs}",
            typed.trim_end(),
            text.help
        ));
    }
    // Slash commands without a text twin, by who may run them.
    let slash_only = |permission: Option<&str>| -> Vec<String> {
        COMMANDS
            .iter()
            .filter(|s| s.slash.is_some() && s.text.is_none())
            .filter(|s| s.permission.map(|p| p.name) == permission)
            .map(|s| format!("`/{}`", s.name))
            .collect()
    };
    for (who, permission) in [
        ("Everyone", None),
        ("Admins", Some(MANAGE_SERVER.name)),
        ("Moderators", Some(MODERATE_MEMBERS.name)),
        ("With Kick Members", Some(KICK_MEMBERS.name)),
        ("With Ban Members", Some(BAN_MEMBERS.name)),
    ] {
        let commands = slash_only(permission);
        if !commands.is_empty() {
            lines.push(format!("{who}: {}.", commands.join(", ")));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_every_text_command_with_the_guilds_prefix() {
        assert_eq!(
            super::help("k?"),
            "**Keeper** counts XP as you chat.\n\
             `k?rank [@member]` (or `/rank`): level, XP and place\n\
             `k?top [page]` (or `/leaderboard`): the leaderboard\n\
             `k?warn @member reason` (or `/warn`): warn a member (Timeout Members)\n\
             `k?warnings [@member] [page]` (or `/warnings`): warnings and cases (others' for moderators)\n\
             Everyone: `/mydata`.\n\
             Admins: `/config`, `/xp`, `/levels`.\n\
             Moderators: `/unwarn`, `/clearwarnings`, `/case`, `/reason`, `/note`, `/timeout`, `/untimeout`.\n\
             With Kick Members: `/kick`.\n\
             With Ban Members: `/ban`, `/unban`."
        );
    }
}
