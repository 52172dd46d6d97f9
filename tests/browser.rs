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
use keeper::web::{
    Web,
    page::{Board, Row, render},
    routes,
};
use keeper_store::Store;
use serde_json::{Value, json};
use twilight_model::id::Id;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const GUILD: u64 = 10;
const MEMBERS: u64 = 250;
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

/// A store with [`MEMBERS`] members in a public guild.
async fn seeded() -> (common::Backend, Arc<dyn Store>) {
    let (backend, url) = common::Backend::create(false).await;
    let store = common::open_store(&url).await;
    common::public_leaderboard(&*store, GUILD, MEMBERS).await;
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

/// A board of [`HOSTILE`] names, as the page will show them once the store
/// keeps names (it does not yet, so the page is rendered here directly).
fn hostile_board() -> Board {
    let rows = HOSTILE
        .iter()
        .zip(1..)
        .map(|(name, rank)| Row {
            rank,
            user_id: Id::new(2_000 + rank),
            name: Some((*name).to_owned()),
            avatar_url: None,
            level: 120,
            xp: 98_765_432_100 - rank as i64,
            xp_into_level: 123_456,
            xp_for_level: 234_567,
        })
        .collect();
    Board {
        guild_id: Id::new(GUILD),
        guild_name: Some(format!("<i>{}</i>", "W".repeat(60))),
        guild_icon_url: None,
        page: 9_999,
        pages: 10_000,
        members: 999_999,
        per_page: 100,
        search: None,
        canonical_url: None,
        rows,
    }
}

/// The web routes on a port of 127.0.0.1, as the bot serves them, and the
/// hostile board at `/hostile`.
async fn serve(store: Arc<dyn Store>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hostile = render(&hostile_board());
    let app = routes(Web::new(store, "http://127.0.0.1:9", None)).route(
        "/hostile",
        axum::routing::get(move || async move { axum::response::Html(hostile) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
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
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
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
        let empty = browser.find(Locator::Css("p.empty")).await.unwrap();
        assert_eq!(empty.text().await.unwrap(), "No member matches “ann”.");
        assert_fits(&browser, &format!("the search at {width} px")).await;
        screenshot(&browser, "leaderboard-search", width).await;

        // Hostile names are text: no script ran, no element came of them,
        // and the longest end in an ellipsis instead of widening the page.
        browser
            .goto(&format!("http://{addr}/hostile"))
            .await
            .unwrap();
        assert_eq!(rows(&browser).await, HOSTILE.len());
        let seen = browser
            .execute(
                "return [document.title, document.querySelectorAll('script, img, b, i').length, \
                 Array.from(document.querySelectorAll('.name'), e => e.textContent)];",
                vec![],
            )
            .await
            .unwrap();
        assert_ne!(seen[0], json!("pwned"), "a name ran a script");
        assert_eq!(seen[1], json!(0), "a name became markup");
        assert_eq!(seen[2], json!(HOSTILE), "the names as typed");
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
