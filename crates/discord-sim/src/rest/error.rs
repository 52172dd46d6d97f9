//! Discord-style REST errors: the status, Discord's JSON error code and
//! message, and for invalid form bodies (50035) the nested `errors` object
//! naming the field.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Discord's JSON error code, attached to error responses for the log.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub u32);

/// A Discord-style error: `{"code": .., "message": .., "errors": ..}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub errors: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            errors: None,
        }
    }
    pub fn unknown_channel() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10003, "Unknown Channel")
    }
    pub fn unknown_guild() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10004, "Unknown Guild")
    }
    pub fn unknown_member() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10007, "Unknown Member")
    }
    pub fn unknown_message() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10008, "Unknown Message")
    }
    pub fn unknown_role() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10011, "Unknown Role")
    }
    pub fn unknown_user() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10013, "Unknown User")
    }
    pub fn unknown_webhook() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10015, "Unknown Webhook")
    }
    pub fn unknown_ban() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10026, "Unknown Ban")
    }
    pub fn unknown_interaction() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10062, "Unknown interaction")
    }
    pub fn unknown_application() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10002, "Unknown Application")
    }
    pub fn already_acknowledged() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            40060,
            "Interaction has already been acknowledged.",
        )
    }
    pub fn missing_permissions() -> Self {
        Self::new(StatusCode::FORBIDDEN, 50013, "Missing Permissions")
    }
    pub fn missing_access() -> Self {
        Self::new(StatusCode::FORBIDDEN, 50001, "Missing Access")
    }
    pub fn cannot_dm() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            50007,
            "Cannot send messages to this user",
        )
    }
    pub fn empty_message() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        )
    }
    pub fn invalid_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            50109,
            "The request body contains invalid JSON.",
        )
    }
    /// 50035 with Discord's nested `errors` object: `path` is the field path
    /// (e.g. `["0", "name"]`), `code` the error code like
    /// `BASE_TYPE_BAD_LENGTH`.
    pub fn invalid_form(path: &[String], code: &str, message: &str) -> Self {
        let mut errors = json!({"_errors": [{"code": code, "message": message}]});
        for key in path.iter().rev() {
            errors = json!({ key.as_str(): errors });
        }
        Self {
            status: StatusCode::BAD_REQUEST,
            code: 50035,
            message: "Invalid Form Body".into(),
            errors: Some(errors),
        }
    }
    /// 50035: `path` must be an object.
    pub fn not_an_object(path: &[String]) -> Self {
        Self::invalid_form(
            path,
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        )
    }
    /// 50035: `path` must be an array.
    pub fn not_an_array(path: &[String]) -> Self {
        Self::invalid_form(
            path,
            "ARRAY_TYPE_CONVERT",
            "Only iterables may be used in a ListType",
        )
    }
    /// 50035: `path` must be a string.
    pub fn not_a_string(path: &[String]) -> Self {
        Self::invalid_form(path, "BASE_TYPE_STRING", "Must be a string.")
    }
    /// 50035: `path` must be an integer (`shown` is what it was).
    pub fn not_an_int(path: &[String], shown: &str) -> Self {
        Self::invalid_form(
            path,
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{shown}\" is not int."),
        )
    }
    /// 50035: `path` is missing.
    pub fn required(path: &[String]) -> Self {
        Self::invalid_form(path, "BASE_TYPE_REQUIRED", "This field is required")
    }
    /// 50035: `path` holds more than `max` items or characters.
    pub fn too_long(path: &[String], max: usize) -> Self {
        Self::invalid_form(
            path,
            "BASE_TYPE_MAX_LENGTH",
            &format!("Must be {max} or fewer in length."),
        )
    }
    /// 50035: `path` must hold between `min` and `max` characters.
    pub fn bad_length(path: &[String], min: usize, max: usize) -> Self {
        Self::invalid_form(
            path,
            "BASE_TYPE_BAD_LENGTH",
            &format!("Must be between {min} and {max} in length."),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.code, "message": self.message});
        if let Some(e) = self.errors {
            body["errors"] = e;
        }
        let mut r = (self.status, axum::Json(body)).into_response();
        r.extensions_mut().insert(ErrorCode(self.code));
        r
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;
