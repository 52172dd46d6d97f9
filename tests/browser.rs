//! The leaderboard page in a real browser: Debian's Chromium, headless,
//! driven through chromedriver (WebDriver, by fantoccini), at a phone's width
//! (375 px) and a desktop's (1440 px), light and dark. It checks what a person
//! sees: the hundred rows of page 1, nothing wider than the screen, the "next"
//! link leading to page 2 (rank 101 first), the search form going to `?q=`,
//! and hostile names (markup, overrides, endless words) shown as text that
//! fits.
//! Screenshots go to `target/browser-screenshots/` (CI keeps them).
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` it says it skipped
//! and how to install them, unless `KEEPER_REQUIRE_BROWSER=1` (CI), where
//! their absence fails.

mod common;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use keeper::web::{Web, routes};
use keeper_store::{GuildFacts, MemberProfile, Store, XpAward};
use serde_json::{Value, json};
use twilight_model::id::Id;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const GUILD: u64 = 10;
const MEMBERS: u64 = 250;
/// A second public guild, whose members chose [`HOSTILE`] names.
const HOSTILE_GUILD: u64 = 11;
/// The sizes a person reads the page at: a phone, and a desktop.
const SIZES: [(u32, u32); 2] = [(375, 800), (1440, 900)];

/// Whether the browser is here; when not, says so (or fails, in CI).
fn browser_present() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    let message = format!(
        "browser test skipped: {CHROMIUM} or {CHROMEDRIVER} is missing; \
         install them with `apt-get install chromium chromium-driver`"
    );
    if std::env::var("KEEPER_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("{message} (KEEPER_REQUIRE_BROWSER=1)");
    }
    eprintln!("{message}");
    false
}

/// A store with [`MEMBERS`] members in a public guild, and the
/// [`HOSTILE`] names in another, as Keeper saw them in their messages.
async fn seeded() -> (common::Backend, Arc<dyn Store>) {
    let (backend, url) = common::Backend::create(common::Db::Sqlite).await;
    let store = common::open_store(&url).await;
    common::public_leaderboard(&*store, GUILD, MEMBERS).await;
    common::public_leaderboard(&*store, HOSTILE_GUILD, 0).await;
    let at = chrono::Utc::now();
    let guild = Id::new(HOSTILE_GUILD);
    let members = (1..).zip(HOSTILE);
    let awards: Vec<XpAward> = members
        .clone()
        .map(|(i, _)| XpAward {
            guild_id: guild,
            user_id: Id::new(2_000 + i),
            xp: 98_765_432_100 - i as i64,
            messages: 1,
            at,
        })
        .collect();
    store.award_xp(&awards, &[]).await.unwrap();
    let profiles: Vec<MemberProfile> = members
        .map(|(i, name)| MemberProfile {
            guild_id: guild,
            user_id: Id::new(2_000 + i),
            display_name: (*name).to_owned(),
            avatar: (i % 2 == 0).then(|| format!("{:06x}{i:026x}", 0x3366CC * i % 0xFF_FFFF)),
            seen_at: at,
        })
        .collect();
    store.save_profiles(&profiles).await.unwrap();
    let facts = GuildFacts {
        name: format!("<i>{}</i>", "W".repeat(60)),
        ..GuildFacts::unknown(guild)
    };
    store.save_guild(&facts, at).await.unwrap();
    (backend, store)
}

/// Names as members choose them to hurt: markup, quotes, overrides,
/// invisible characters, and lengths no column holds.
const HOSTILE: &[&str] = &[
    "<script>document.title='pwned'</script>",
    "\"><img src=x onerror=\"document.title='pwned'\">",
    "Tom & Jerry's <b>bold</b>",
    "\u{202E}evil override\u{202C} 12345",
    "zero\u{200B}width\u{200D}joiner\u{FEFF}",
    "ثعلب الصحراء سريع",
    "Wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww",
    "a very long name with many words that would wrap the row if it were allowed",
];

/// The web routes on a port of 127.0.0.1, as the bot serves them, and a CDN
/// beside them at `/cdn` whose pictures are squares of the colour their hash
/// begins with (as the simulator's).
async fn serve(store: Arc<dyn Store>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cdn = axum::routing::get(
        |axum::extract::Path((_, file)): axum::extract::Path<(String, String)>| async move {
            picture(&file)
        },
    );
    let app = routes(Web::new(store, &format!("http://{addr}/cdn"), None))
        .route("/cdn/avatars/{user}/{file}", cdn.clone())
        .route("/cdn/icons/{guild}/{file}", cdn);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A 64 px PNG square in the colour `file`'s first six hex digits name.
fn picture(file: &str) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let hex = file.trim_start_matches("a_").get(..6).unwrap_or("808080");
    let rgb = u32::from_str_radix(hex, 16)
        .unwrap_or(0x80_80_80)
        .to_be_bytes();
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, 64, 64);
    encoder.set_color(png::ColorType::Rgb);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&rgb[1..].repeat(64 * 64)).unwrap();
    writer.finish().unwrap();
    ([(axum::http::header::CONTENT_TYPE, "image/png")], png).into_response()
}

/// Scroll down a screen at a time to the end and back, as a reader does, so
/// that every lazily loaded picture is asked for and drawn.
async fn scroll_through(browser: &Client) {
    for _ in 0..200 {
        let at_end = browser
            .execute(
                "window.scrollBy(0, window.innerHeight); \
                 return window.scrollY + window.innerHeight >= document.body.scrollHeight;",
                vec![],
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        if at_end == json!(true) {
            break;
        }
    }
    // The last pictures asked for: give them a moment to arrive.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let pending = browser
            .execute(
                "return Array.from(document.images).filter(i => !i.complete).length;",
                vec![],
            )
            .await
            .unwrap();
        if pending == json!(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser
        .execute("window.scrollTo(0, 0);", vec![])
        .await
        .unwrap();
}

/// Every picture on the page loaded and drawn (none broken).
async fn pictures_shown(browser: &Client) -> usize {
    let seen = browser
        .execute(
            "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0);",
            vec![],
        )
        .await
        .unwrap();
    let seen = seen.as_array().unwrap();
    assert!(
        seen.iter().all(|s| s == &json!(true)),
        "a broken picture: {seen:?}"
    );
    seen.len()
}

/// chromedriver on a free port, ended when dropped.
struct Driver {
    child: tokio::process::Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        // A port the system just gave out and took back: free, barring a race
        // no other test here runs.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A headless Chromium session; `dark` makes the system's colour scheme
    /// dark, as a phone at night has it.
    async fn browser(&self, dark: bool) -> Client {
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ];
        if dark {
            args.push("--force-dark-mode");
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Make the page's viewport `width` x `height` CSS pixels: the window is
/// sized, then grown by whatever its frame takes.
async fn viewport(browser: &Client, width: u32, height: u32) {
    browser.set_window_size(width, height).await.unwrap();
    let (inner_w, inner_h) = inner(browser).await;
    browser
        .set_window_size(
            width + (width - inner_w.min(width)),
            height + (height - inner_h.min(height)),
        )
        .await
        .unwrap();
    let (inner_w, _) = inner(browser).await;
    assert_eq!(inner_w, width, "the viewport is not {width} px wide");
}

async fn inner(browser: &Client) -> (u32, u32) {
    let size = browser
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await
        .unwrap();
    let px = |i: usize| size[i].as_u64().unwrap() as u32;
    (px(0), px(1))
}

/// Nothing on the page is wider than the viewport: no sideways scrolling.
async fn assert_fits(browser: &Client, what: &str) {
    let widths = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(
        scroll <= inner,
        "{what}: the page is {scroll} px wide in a {inner} px viewport"
    );
}

async fn rows(browser: &Client) -> usize {
    browser
        .find_all(Locator::Css("li.row"))
        .await
        .unwrap()
        .len()
}

/// The first row's rank, as its text says it (to a screen reader too).
async fn first_rank(browser: &Client) -> String {
    let rank = browser
        .execute(
            "return document.querySelector('li.row .rank').textContent;",
            vec![],
        )
        .await
        .unwrap();
    rank.as_str().unwrap().to_owned()
}

/// Wait until the address is `url` (a click's navigation is not awaited).
async fn wait_for_url(browser: &Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = browser.current_url().await.unwrap();
        if now.as_str() == url {
            return;
        }
        assert!(Instant::now() < deadline, "never reached {url}: at {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("browser-screenshots")
}

/// The viewport as a PNG, for a person to look at (CI keeps them).
async fn screenshot(browser: &Client, name: &str, width: u32) {
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    let path = dir.join(format!("{name}-{width}.png"));
    std::fs::write(&path, &png).unwrap();
    println!("screenshot: {}", path.display());
    // The README's pictures of the page: `KEEPER_DOCS_IMAGES=1 cargo test
    // --test browser` takes them again.
    let docs = [("leaderboard-page1", 1440), ("leaderboard-dark", 375)];
    if std::env::var("KEEPER_DOCS_IMAGES").is_ok_and(|v| v == "1") && docs.contains(&(name, width))
    {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/images")
            .join(format!("{name}-{width}.png"));
        std::fs::write(&path, &png).unwrap();
        println!("docs image: {}", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_reads_the_leaderboard_at_phone_and_desktop_widths() {
    if !browser_present() {
        return;
    }
    let (backend, store) = seeded().await;
    let addr = serve(Arc::clone(&store)).await;
    let base = format!("http://{addr}/leaderboard/{GUILD}");
    let driver = Driver::start().await;

    let browser = driver.browser(false).await;
    for (width, height) in SIZES {
        viewport(&browser, width, height).await;

        browser.goto(&base).await.unwrap();
        assert_eq!(rows(&browser).await, 100, "page 1 at {width} px");
        assert_eq!(first_rank(&browser).await, "Rank #1");
        assert_fits(&browser, &format!("page 1 at {width} px")).await;
        // The guild's icon and the avatars of page 1's even members but the
        // top one (who never spoke): 1 + 49. Pictures are loaded lazily, so
        // scroll them all into view first.
        scroll_through(&browser).await;
        assert_eq!(pictures_shown(&browser).await, 50, "icon and avatars");
        screenshot(&browser, "leaderboard-page1", width).await;

        // The "next" link, as a person clicks it.
        let next = browser.find(Locator::Css("a[rel=next]")).await.unwrap();
        next.click().await.unwrap();
        wait_for_url(&browser, &format!("{base}?page=2")).await;
        assert_eq!(rows(&browser).await, 100, "page 2 at {width} px");
        assert_eq!(first_rank(&browser).await, "Rank #101");
        assert_fits(&browser, &format!("page 2 at {width} px")).await;
        screenshot(&browser, "leaderboard-page2", width).await;

        // The search form: typed and sent with its button, no script.
        let input = browser.find(Locator::Css("input[name=q]")).await.unwrap();
        input.send_keys("ann").await.unwrap();
        let button = browser
            .find(Locator::Css("form.search button"))
            .await
            .unwrap();
        button.click().await.unwrap();
        wait_for_url(&browser, &format!("{base}?q=ann")).await;
        // The Anns: every tenth member, the best placed first.
        assert_eq!(rows(&browser).await, 24, "the Anns at {width} px");
        assert_eq!(first_rank(&browser).await, "Rank #11");
        assert_fits(&browser, &format!("the search at {width} px")).await;
        screenshot(&browser, "leaderboard-search", width).await;

        // Hostile names are text: no script ran, no element came of them,
        // and the longest end in an ellipsis instead of widening the page.
        browser
            .goto(&format!("http://{addr}/leaderboard/{HOSTILE_GUILD}"))
            .await
            .unwrap();
        assert_eq!(rows(&browser).await, HOSTILE.len());
        let seen = browser
            .execute(
                "return [document.title, \
                 document.querySelectorAll('script, b, i, img:not(.avatar):not(.icon)').length, \
                 Array.from(document.querySelectorAll('.name'), e => e.textContent)];",
                vec![],
            )
            .await
            .unwrap();
        assert_ne!(seen[0], json!("pwned"), "a name ran a script");
        assert_eq!(seen[1], json!(0), "a name became markup");
        assert_eq!(seen[2], json!(HOSTILE), "the names as typed");
        assert_eq!(
            pictures_shown(&browser).await,
            HOSTILE.len() / 2,
            "even ones"
        );
        assert_fits(&browser, &format!("hostile names at {width} px")).await;
        screenshot(&browser, "leaderboard-hostile", width).await;
    }
    browser.close().await.unwrap();

    // At night: the dark theme, by the system's preference alone.
    let dark = driver.browser(true).await;
    let (width, height) = SIZES[0];
    viewport(&dark, width, height).await;
    dark.goto(&base).await.unwrap();
    let background = dark
        .execute(
            "return getComputedStyle(document.body).backgroundColor;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(background, json!("rgb(17, 18, 21)"), "the dark background");
    assert_fits(&dark, "page 1, dark").await;
    screenshot(&dark, "leaderboard-dark", width).await;
    dark.close().await.unwrap();

    drop(driver);
    store.close().await;
    backend.drop().await;
}
