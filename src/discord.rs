//! Keeper's REST clients, and the requests it can't start without.

use std::time::Duration;

use twilight_http::Client;

use crate::{
    config::DiscordConfig,
    error::{BotError, BotResult, Fatal},
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

/// One request Keeper can't start without, its failure told as `what` failed.
pub async fn startup_request<T>(
    what: &str,
    request: impl std::future::IntoFuture<
        Output = Result<twilight_http::Response<T>, twilight_http::Error>,
    >,
) -> Result<T, Fatal>
where
    T: serde::de::DeserializeOwned + Unpin + Send,
{
    let result: BotResult<T> = async { Ok(request.await?.model().await?) }.await;
    result.map_err(|err| startup_fatal(what, &err))
}

/// A start-up request to Discord failed: a rejected token is a configuration
/// problem (exit 2), anything else a run-time one.
fn startup_fatal(what: &str, err: &BotError) -> Fatal {
    use twilight_http::error::ErrorType;
    let rejected = match err {
        BotError::Http(http) => match http.kind() {
            ErrorType::Unauthorized => true,
            ErrorType::Response { status, .. } => status.get() == 401,
            _ => false,
        },
        _ => false,
    };
    if rejected {
        Fatal::Config(
            "DISCORD_TOKEN: Discord rejected the token (401); copy it again from the Bot tab"
                .into(),
        )
    } else {
        Fatal::Runtime(format!("{what}: {err}"))
    }
}
