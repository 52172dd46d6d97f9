//! Keeper's REST clients, and the requests it can't start without.

use std::time::Duration;

use chrono::{DateTime, Utc};
use twilight_http::Client;

use crate::{
    config::DiscordConfig,
    error::{BotError, BotResult, Fatal},
    snowflake::DiscordClock,
};

/// The client for everything but interaction answers, behind twilight's rate
/// limiter.
pub fn http_client(discord: &DiscordConfig, token: &str) -> Client {
    http_builder(discord, token).build()
}

/// The client for answering interactions, without twilight's rate limiter: that
/// limiter queues every request to a path it has not seen a bucket for behind one
/// another, and each interaction's callback path is new, so under load answers
/// waited for each other (up to a second at 280 commands/s through the simulator).
/// Discord exempts interaction responses from the global limit and each one is
/// sent once; a 429 would surface as a logged error, never a crash.
pub fn interaction_client(discord: &DiscordConfig, token: &str) -> Client {
    http_builder(discord, token).ratelimiter(None).build()
}

fn http_builder(discord: &DiscordConfig, token: &str) -> twilight_http::client::ClientBuilder {
    let mut builder = Client::builder()
        .token(token.to_owned())
        .timeout(Duration::from_secs(10));
    if let Some(api) = &discord.api_url {
        builder = builder.proxy(api.host.clone(), api.use_http);
    }
    builder
}

/// A start-up request's answer, and Discord's clock as its `Date` told it.
pub struct Answer<T> {
    pub value: T,
    pub clock: Option<DiscordClock>,
}

/// Start-up requests are tried this many times while Discord can't be reached...
const STARTUP_ATTEMPTS: u32 = 5;
/// ...pausing this long after the first failure, twice as long after each next
/// (0.25 + 0.5 + 1 + 2 s: a network that is still coming up gets a few seconds).
const STARTUP_FIRST_PAUSE: Duration = Duration::from_millis(250);

/// One request Keeper can't start without (`request` makes it afresh for each
/// attempt), its failure told as `what` failed. Discord unreachable is retried
/// with backoff, then reported with its cause as a configuration problem of
/// `DISCORD_API_URL`; a rejected token as one of `DISCORD_TOKEN`; both exit 2.
pub async fn startup_request<T, R>(
    what: &str,
    discord: &DiscordConfig,
    request: impl Fn() -> R,
) -> Result<Answer<T>, Fatal>
where
    R: std::future::IntoFuture<Output = Result<twilight_http::Response<T>, twilight_http::Error>>,
    T: serde::de::DeserializeOwned + Unpin + Send,
{
    let mut pause = STARTUP_FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        let result: BotResult<Answer<T>> = async {
            let response = request().await?;
            let received = Utc::now();
            let dated = response
                .headers()
                .find(|(name, _)| name.eq_ignore_ascii_case("date"))
                .and_then(|(_, value)| std::str::from_utf8(value).ok())
                .and_then(|value| DateTime::parse_from_rfc2822(value).ok());
            let clock = dated.map(|d| DiscordClock::from_date(received, d.to_utc()));
            Ok(Answer {
                value: response.model().await?,
                clock,
            })
        }
        .await;
        let err = match result {
            Ok(answer) => return Ok(answer),
            Err(err) => err,
        };
        match startup_failure(&err) {
            StartupFailure::Unreachable if attempt < STARTUP_ATTEMPTS => {
                tracing::warn!(attempt, error = %err, "{what}: Discord's API did not answer; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            StartupFailure::Unreachable => {
                return Err(Fatal::Config(format!(
                    "DISCORD_API_URL: could not reach Discord's API at {} ({what}, {STARTUP_ATTEMPTS} attempts): {}",
                    discord.api_url_shown(),
                    // twilight's own words ("parsing or receiving the response
                    // failed") say nothing here; what lies under them does.
                    match &err {
                        BotError::Http(http) => cause(http),
                        other => cause(other),
                    },
                )));
            }
            StartupFailure::Rejected => {
                return Err(Fatal::Config(
                    "DISCORD_TOKEN: Discord rejected the token (401); copy it again from the Bot tab"
                        .into(),
                ));
            }
            StartupFailure::Other => return Err(Fatal::Runtime(format!("{what}: {err}"))),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum StartupFailure {
    /// Nothing answered, or only a gateway in front of Discord did (5xx).
    Unreachable,
    /// Discord answered: the token is not valid.
    Rejected,
    Other,
}

fn startup_failure(err: &BotError) -> StartupFailure {
    use twilight_http::error::ErrorType;
    let BotError::Http(http) = err else {
        return StartupFailure::Other;
    };
    match http.kind() {
        ErrorType::Unauthorized => StartupFailure::Rejected,
        ErrorType::Response { status, .. } if status.get() == 401 => StartupFailure::Rejected,
        ErrorType::Response { status, .. } if status.is_server_error() => {
            StartupFailure::Unreachable
        }
        ErrorType::RequestError | ErrorType::RequestTimedOut | ErrorType::RequestCanceled => {
            StartupFailure::Unreachable
        }
        _ => StartupFailure::Other,
    }
}

/// What lies under an error: its sources, outermost first, without repeats
/// ("client error (Connect): tcp connect error: Connection refused (os error 111)").
fn cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = err.source();
    while let Some(source) = next {
        let text = source.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = source.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}
