//! The leaderboard as a web page (`GET /leaderboard/{guild_id}`), rendered on
//! the server with maud: compiled templates that escape every value put in
//! text or an attribute, so a member named `<script>` shows as those eight
//! characters. The page runs no JavaScript and loads nothing but avatars
//! from Discord's CDN; its style is one `<style>` in the head.
//!
//! Pure: [`render`] turns a [`Board`] (what the handler in `web.rs` read
//! from the store) into HTML, and [`message`] the pages that say why there is
//! no board (404, 400, 503).

use maud::{DOCTYPE, Markup, PreEscaped, html};
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

/// One page of a guild's leaderboard, or the results of a search in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Board {
    pub guild_id: Id<GuildMarker>,
    pub guild_name: Option<String>,
    pub guild_icon_url: Option<String>,
    /// From 1.
    pub page: u64,
    /// 0 when nobody has earned XP yet.
    pub pages: u64,
    /// Members on the leaderboard.
    pub members: u64,
    pub per_page: u32,
    /// The search typed, trimmed: `rows` are then its results, not a page.
    pub search: Option<String>,
    /// Where this page is public (`KEEPER_PUBLIC_URL`), for the canonical link.
    pub canonical_url: Option<String>,
    pub rows: Vec<Row>,
}

/// One member as the page shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub rank: u64,
    pub user_id: Id<UserMarker>,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub level: i32,
    pub xp: i64,
    pub xp_into_level: i64,
    pub xp_for_level: i64,
}

/// How many page numbers either side of the current one the navigation links.
const NEARBY_PAGES: u64 = 2;

/// Light by default, dark when the reader's system is; every length scales
/// with the text, and nothing is wider than its column: the grid's name
/// column may shrink to nothing (`minmax(0, 1fr)`, `min-width: 0`) and a name
/// that does not fit ends in an ellipsis instead of widening the page.
const STYLE: &str = r#"
*,*::before,*::after{box-sizing:border-box}
:root{color-scheme:light dark;--bg:#f4f5f9;--card:#fff;--text:#1b1c21;--muted:#5a5e6d;
--accent:#4752c4;--on-accent:#fff;--track:#dfe2ec;--border:#dfe2ec;--gold:#a86f00;--silver:#5f6b7a;--bronze:#9a5a2c}
@media (prefers-color-scheme:dark){:root{--bg:#111215;--card:#1d1e23;--text:#eceef3;
--muted:#a4a8b6;--accent:#8f97fa;--on-accent:#111215;--track:#33353e;--border:#2c2e36;--gold:#f2c14e;
--silver:#c3ccd6;--bronze:#e09a64}}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--text);
font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:56rem;margin:0 auto;padding:1rem .75rem 2rem}
a{color:var(--accent)}
header.guild{display:flex;align-items:center;gap:.85rem;margin:.5rem 0 1rem}
.icon{flex:none;width:3.5rem;height:3.5rem;border-radius:1rem;object-fit:cover}
.badge{display:flex;align-items:center;justify-content:center;background:var(--accent);
color:var(--on-accent);font-weight:700;font-size:1.5rem}
.title{min-width:0}
h1{margin:0;font-size:1.4rem;line-height:1.2;overflow-wrap:anywhere}
h2{font-size:1.1rem;margin:1rem 0 .5rem;overflow-wrap:anywhere}
.sub{margin:.15rem 0 0;color:var(--muted);font-size:.9rem}
form.search{display:flex;gap:.5rem;margin:0 0 1rem}
form.search input{flex:1;min-width:0;font:inherit;padding:.45rem .7rem;border-radius:.6rem;
border:1px solid var(--border);background:var(--card);color:var(--text)}
form.search button{flex:none;font:inherit;padding:.45rem .9rem;border-radius:.6rem;border:0;
background:var(--accent);color:var(--on-accent);cursor:pointer}
ol.board{list-style:none;margin:0;padding:0;display:grid;
grid-template-columns:auto auto minmax(0,1fr) auto;gap:.4rem 0}
.row{grid-column:1/-1;display:grid;grid-template-columns:subgrid;align-items:center;
column-gap:.7rem;padding:.55rem .75rem;background:var(--card);border-radius:.75rem;
border:1px solid var(--border)}
.rank{font-weight:700;font-variant-numeric:tabular-nums;text-align:right;color:var(--muted)}
.r1 .rank{color:var(--gold)}.r2 .rank{color:var(--silver)}.r3 .rank{color:var(--bronze)}
.avatar{width:2.5rem;height:2.5rem;border-radius:50%;display:block;object-fit:cover;
background:var(--track)}
.initials{display:flex;align-items:center;justify-content:center;font-size:.9rem;
font-weight:700;color:#fff;user-select:none}
.h0{background:#5865f2}.h1{background:#3ba55c}.h2{background:#c27c0e}
.h3{background:#d83c3e}.h4{background:#9146ff}.h5{background:#1f8b99}
.who{min-width:0}
.name{display:block;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;
font-weight:600;unicode-bidi:isolate}
progress{display:block;width:100%;height:.4rem;margin:.3rem 0 .1rem;border:0;
border-radius:1rem;background:var(--track);overflow:hidden;-webkit-appearance:none;appearance:none}
progress::-webkit-progress-bar{background:var(--track)}
progress::-webkit-progress-value{background:var(--accent)}
progress::-moz-progress-bar{background:var(--accent)}
.into{display:block;font-size:.75rem;color:var(--muted);white-space:nowrap;overflow:hidden;
text-overflow:ellipsis;font-variant-numeric:tabular-nums}
.stats{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.level{display:block;font-weight:700}
.xp{display:block;font-size:.8rem;color:var(--muted)}
nav.pages{display:flex;flex-wrap:wrap;justify-content:center;gap:.4rem;margin:1.25rem 0 0}
nav.pages a,nav.pages span{min-width:2.4rem;padding:.35rem .6rem;border-radius:.6rem;
text-align:center;text-decoration:none;background:var(--card);border:1px solid var(--border)}
nav.pages [aria-current]{background:var(--accent);border-color:var(--accent);color:var(--on-accent);
font-weight:700}
nav.pages span.off{color:var(--muted);opacity:.6}
.empty{padding:1.5rem 1rem;text-align:center;background:var(--card);border-radius:.75rem;
border:1px solid var(--border);overflow-wrap:anywhere}
footer{margin-top:2rem;text-align:center;color:var(--muted);font-size:.8rem}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;
clip:rect(0 0 0 0);white-space:nowrap;border:0}
@media (min-width:48rem){main{padding-top:2rem}h1{font-size:1.8rem}
.row{column-gap:1rem;padding:.6rem 1rem}.stats{min-width:7rem}}
"#;

/// The head every page shares: the viewport set for phones, both colour
/// schemes, and the one stylesheet.
fn head(title: &str, canonical: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            meta name="referrer" content="no-referrer";
            title { (title) }
            @if let Some(url) = canonical {
                link rel="canonical" href=(url);
            }
            style { (PreEscaped(STYLE)) }
        }
    }
}

/// The page of one board.
pub fn render(board: &Board) -> String {
    let guild = board.guild_name.as_deref().filter(|n| visible(n));
    let title = match guild {
        Some(name) => format!("{name} – Leaderboard"),
        None => "Leaderboard".to_owned(),
    };
    let summary = match board.members {
        0 => "No members ranked yet".to_owned(),
        1 => "1 member".to_owned(),
        n => format!("{} members", grouped(n)),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&title, board.canonical_url.as_deref()))
            body {
                main {
                    header.guild {
                        @match &board.guild_icon_url {
                            Some(url) => { img.icon src=(url) alt="" width="56" height="56"; }
                            None => {
                                span.icon.badge aria-hidden="true" { (initials(guild, "#")) }
                            }
                        }
                        div.title {
                            h1 dir="auto" { (guild.unwrap_or("Leaderboard")) }
                            p.sub {
                                @if guild.is_some() { "Leaderboard · " }
                                (summary)
                                @if board.search.is_none() && board.pages > 1 {
                                    " · page " (grouped(board.page)) " of " (grouped(board.pages))
                                }
                            }
                        }
                    }
                    form.search method="get" role="search" {
                        label.sr for="q" { "Search members by name" }
                        input id="q" type="search" name="q" maxlength="100"
                            placeholder="Search members" value=[board.search.as_deref()];
                        button type="submit" { "Search" }
                    }
                    @match &board.search {
                        Some(text) => (results(board, text)),
                        None => (page(board)),
                    }
                    footer { "Ranked by Keeper" }
                }
            }
        }
    }
    .into_string()
}

/// A page of the leaderboard, with the links to the others.
fn page(board: &Board) -> Markup {
    html! {
        @if board.rows.is_empty() {
            p.empty { "Nobody has earned XP here yet." }
        } @else {
            h2.sr { "Ranks " (board.rows[0].rank) " to " (board.rows[board.rows.len() - 1].rank) }
            (list(&board.rows))
        }
        @if board.pages > 1 {
            (pages(board.page, board.pages))
        }
    }
}

/// What a search found (the store finds by name; the ranks are the
/// leaderboard's).
fn results(board: &Board, text: &str) -> Markup {
    html! {
        h2 { "Members matching “" bdi { (text) } "”" }
        @if board.rows.is_empty() {
            p.empty { "No member matches “" bdi { (text) } "”." }
        } @else {
            (list(&board.rows))
        }
        nav.pages aria-label="Leaderboard" {
            a href="?page=1" { "Back to the leaderboard" }
        }
    }
}

fn list(rows: &[Row]) -> Markup {
    html! {
        ol.board {
            @for row in rows {
                (item(row))
            }
        }
    }
}

fn item(row: &Row) -> Markup {
    let name = display_name(row);
    let class = match row.rank {
        1 => "row r1",
        2 => "row r2",
        3 => "row r3",
        _ => "row",
    };
    let into = format!(
        "{} / {} XP",
        grouped(row.xp_into_level.max(0)),
        grouped(row.xp_for_level.max(0))
    );
    html! {
        li class=(class) {
            span.rank { span.sr { "Rank " } "#" (row.rank) }
            @match &row.avatar_url {
                Some(url) => {
                    img.avatar src=(url) alt="" width="40" height="40" loading="lazy"
                        decoding="async";
                }
                None => {
                    span class={ "avatar initials " (hue(row.user_id)) } aria-hidden="true" {
                        (initials(row.name.as_deref().filter(|n| visible(n)), "?"))
                    }
                }
            }
            div.who {
                // dir=auto isolates the name: a right-to-left name, or one
                // holding an override (U+202E), can't reorder the row.
                span.name dir="auto" title=(name) { (name) }
                progress max=(row.xp_for_level.max(1)) value=(row.xp_into_level.max(0))
                    aria-label={ "Progress to level " (row.level.saturating_add(1)) } {}
                span.into { (into) }
            }
            span.stats {
                span.level { "Level " (row.level) }
                span.xp title={ (grouped(row.xp)) " XP" } { (compact(row.xp)) " XP" }
            }
        }
    }
}

/// First, previous, the pages near `current`, next and last; `rel` on the
/// neighbours, `aria-current` on this one. Links are relative (`?page=N`), so
/// the page works under whatever path a proxy serves it at.
fn pages(current: u64, last: u64) -> Markup {
    let near = current.saturating_sub(NEARBY_PAGES).max(1)..=(current + NEARBY_PAGES).min(last);
    html! {
        nav.pages aria-label="Pages" {
            @if current > 1 {
                a href="?page=1" { "« First" }
                a href={ "?page=" (current - 1) } rel="prev" { "‹ Previous" }
            } @else {
                span.off { "« First" }
                span.off { "‹ Previous" }
            }
            @for n in near {
                @if n == current {
                    span aria-current="page" { (n) }
                } @else {
                    a href={ "?page=" (n) } aria-label={ "Page " (n) } { (n) }
                }
            }
            @if current < last {
                a href={ "?page=" (current + 1) } rel="next" { "Next ›" }
                a href={ "?page=" (last) } { "Last »" }
            } @else {
                span.off { "Next ›" }
                span.off { "Last »" }
            }
        }
    }
}

/// A page with no board: why, and where to go instead.
pub fn message(title: &str, text: &str, link: Option<(&str, &str)>) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body {
                main {
                    h1 { (title) }
                    p.empty { (text) }
                    @if let Some((href, label)) = link {
                        nav.pages { a href=(href) { (label) } }
                    }
                }
            }
        }
    }
    .into_string()
}

/// The member's name, or `User 1234` (the last digits of their id) while it
/// is unknown or shows nothing.
fn display_name(row: &Row) -> String {
    match row.name.as_deref().filter(|n| visible(n)) {
        Some(name) => name.to_owned(),
        None => {
            let id = row.user_id.to_string();
            format!("User {}", &id[id.len().saturating_sub(4)..])
        }
    }
}

/// Whether a name shows anything: not only spaces, zero-width characters and
/// direction marks.
fn visible(name: &str) -> bool {
    name.chars().any(|c| !c.is_whitespace() && !invisible(c))
}

/// Characters that take no room: zero-width spaces and joiners, direction
/// marks, embeddings, overrides and isolates, the word joiner, the BOM, the
/// soft hyphen.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}')
}

/// Up to two letters for a badge: the first letter or digit of the first two
/// words, so a name of symbols or controls falls back to `fallback`.
fn initials(name: Option<&str>, fallback: &str) -> String {
    let letters: String = name
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() {
        fallback.to_owned()
    } else {
        letters
    }
}

/// One of the badge colours, the same for a member on every page.
fn hue(user: Id<UserMarker>) -> &'static str {
    const HUES: [&str; 6] = ["h0", "h1", "h2", "h3", "h4", "h5"];
    // Snowflakes' low bits are a counter: mixed so neighbours differ.
    HUES[((user.get() >> 22) ^ user.get()) as usize % HUES.len()]
}

/// `1234567` as `1,234,567`.
fn grouped(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A total as few characters as it can be read in: `950`, `12.3k`, `123k`,
/// `4.5M`; the exact number is in the element's title.
fn compact(n: i64) -> String {
    let abs = n.unsigned_abs();
    let (unit, suffix) = match abs {
        0..10_000 => return grouped(n),
        10_000..1_000_000 => (1_000, "k"),
        1_000_000..1_000_000_000 => (1_000_000, "M"),
        _ => (1_000_000_000, "B"),
    };
    let sign = if n < 0 { "-" } else { "" };
    let tenths = abs / (unit / 10);
    if tenths >= 1_000 {
        format!("{sign}{}{suffix}", tenths / 10)
    } else {
        format!("{sign}{}.{}{suffix}", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rank: u64, user: u64, name: Option<&str>) -> Row {
        Row {
            rank,
            user_id: Id::new(user),
            name: name.map(str::to_owned),
            avatar_url: None,
            level: 3,
            xp: 1_234,
            xp_into_level: 34,
            xp_for_level: 255,
        }
    }

    fn board(rows: Vec<Row>) -> Board {
        Board {
            guild_id: Id::new(10),
            guild_name: None,
            guild_icon_url: None,
            page: 1,
            pages: 3,
            members: 250,
            per_page: 100,
            search: None,
            canonical_url: None,
            rows,
        }
    }

    const HOSTILE: &[&str] = &[
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "Tom & Jerry's <b>",
        "\u{202E}evil\u{202C} name",
        "zero\u{200B}width\u{200D}joiner",
        "</li></ol><h1>fake</h1>",
    ];

    #[test]
    fn hostile_names_are_text() {
        let rows = HOSTILE
            .iter()
            .enumerate()
            .map(|(i, name)| row(i as u64 + 1, 1_000 + i as u64, Some(name)))
            .collect();
        let mut b = board(rows);
        b.guild_name = Some("<script>guild</script> & co".into());
        b.search = Some("<script>q\"".into());
        let html = render(&b);
        assert!(!html.to_lowercase().contains("<script"), "{html}");
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("<h1>fake"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("Tom &amp; Jerry's &lt;b&gt;"));
        assert!(html.contains("&lt;/li&gt;&lt;/ol&gt;&lt;h1&gt;fake&lt;/h1&gt;"));
        assert!(html.contains("&lt;script&gt;guild&lt;/script&gt; &amp; co"));
        // The search text, in the input's value and in the heading.
        assert!(html.contains("value=\"&lt;script&gt;q&quot;\""));
        // An override stays inside its name's isolated, auto-direction cell.
        assert!(html.contains("dir=\"auto\" title=\"\u{202E}evil\u{202C} name\""));
        assert!(html.contains("zero\u{200B}width\u{200D}joiner"));
        // One list item per row, nothing more: no name closed the list.
        assert_eq!(html.matches("<li").count(), HOSTILE.len());
        assert_eq!(html.matches("</ol>").count(), 1);
    }

    #[test]
    fn unknown_and_invisible_names_fall_back_to_the_id() {
        let html = render(&board(vec![
            row(1, 123_456_789, None),
            row(2, 42, Some("\u{200B}\u{202E} ")),
            row(3, 7, Some("Ann")),
        ]));
        assert!(html.contains(">User 6789<"), "{html}");
        assert!(html.contains(">User 42<"));
        assert!(html.contains(">Ann<"));
        assert!(html.contains("<title>Leaderboard</title>"));
        assert!(html.contains("<h1 dir=\"auto\">Leaderboard</h1>"));
    }

    #[test]
    fn a_page_shows_rows_progress_and_page_links() {
        let mut b = board((101..=200).map(|r| row(r, 5_000 + r, None)).collect());
        b.page = 2;
        b.guild_name = Some("Rust Café".into());
        b.guild_icon_url = Some("https://cdn.example/icons/10/abc.png?size=128".into());
        b.rows[0].avatar_url = Some("https://cdn.example/avatars/5101/abc.png?size=64".into());
        let html = render(&b);
        assert_eq!(html.matches("<li class=\"row\"").count(), 100);
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
        assert!(
            html.contains(
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            )
        );
        assert_eq!(html.matches("<style>").count(), 1);
        assert!(!html.contains("<script"));
        assert!(html.contains("<title>Rust Café – Leaderboard</title>"));
        assert!(html.contains("src=\"https://cdn.example/icons/10/abc.png?size=128\""));
        assert!(html.contains(
            "<img class=\"avatar\" src=\"https://cdn.example/avatars/5101/abc.png?size=64\" \
             alt=\"\" width=\"40\" height=\"40\" loading=\"lazy\""
        ));
        assert!(html.contains("<progress max=\"255\" value=\"34\""));
        assert!(html.contains("34 / 255 XP"));
        assert!(html.contains("1,234 XP"));
        assert!(html.contains("href=\"?page=1\" rel=\"prev\""));
        assert!(html.contains("href=\"?page=3\" rel=\"next\""));
        assert!(html.contains("<span aria-current=\"page\">2</span>"));
        assert!(html.contains("page 2 of 3"));
        assert!(html.contains("<form class=\"search\" method=\"get\""));
        assert!(html.contains("name=\"q\""));
        // The last page links back but not on.
        b.page = 3;
        let html = render(&b);
        assert!(!html.contains("rel=\"next\""));
        assert!(html.contains("<span class=\"off\">Next ›</span>"));
    }

    #[test]
    fn searches_say_when_nothing_matches() {
        let mut b = board(Vec::new());
        b.search = Some("nobody".into());
        let html = render(&b);
        assert!(
            html.contains("No member matches “<bdi>nobody</bdi>”."),
            "{html}"
        );
        assert!(!html.contains("rel=\"next\""));
        b.search = None;
        b.members = 0;
        b.pages = 0;
        let html = render(&b);
        assert!(html.contains("Nobody has earned XP here yet."));
        assert!(!html.contains("<nav"));
    }

    #[test]
    fn page_links_stay_near_the_current_page() {
        let html = pages(50, 100).into_string();
        for n in 48..=52 {
            assert!(
                html.contains(&format!("href=\"?page={n}\"")) || n == 50,
                "{n}"
            );
        }
        assert!(!html.contains("?page=47\""));
        assert!(!html.contains("?page=53\""));
        assert!(html.contains("href=\"?page=100\""));
        let html = pages(1, 2).into_string();
        assert!(html.contains("href=\"?page=2\" aria-label"));
        assert!(!html.contains("?page=0"));
        assert!(!html.contains("?page=3"));
    }

    #[test]
    fn numbers_are_compact_and_grouped() {
        assert_eq!(grouped(0_u64), "0");
        assert_eq!(grouped(999_u64), "999");
        assert_eq!(grouped(1_000_u64), "1,000");
        assert_eq!(grouped(1_234_567_i64), "1,234,567");
        assert_eq!(grouped(-1_234_i64), "-1,234");
        assert_eq!(compact(950), "950");
        assert_eq!(compact(9_999), "9,999");
        assert_eq!(compact(12_345), "12.3k");
        assert_eq!(compact(123_456), "123k");
        assert_eq!(compact(4_560_000), "4.5M");
        assert_eq!(compact(i64::MAX), "9223372036B");
    }

    #[test]
    fn initials_skip_symbols() {
        assert_eq!(initials(Some("rust café"), "?"), "RC");
        assert_eq!(initials(Some("\u{202E}ok"), "?"), "O");
        assert_eq!(initials(Some("<<< >>>"), "?"), "?");
        assert_eq!(initials(None, "#"), "#");
    }
}
