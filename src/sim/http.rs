//! GitHub-style error responses: `{"message", "documentation_url"}` (and
//! `errors` for 422s), with the status codes GitHub uses.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An error answer, built by handlers with the constructors below.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

pub type ApiResult<T = Response> = Result<T, ApiError>;

const DOCS: &str = "https://docs.github.com/rest";

impl ApiError {
    pub fn new(status: StatusCode, message: &str) -> ApiError {
        ApiError {
            status,
            body: json!({"message": message, "documentation_url": DOCS, "status": status.as_u16().to_string()}),
        }
    }
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "Not Found")
    }
    pub fn bad_credentials() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "Bad credentials")
    }
    pub fn forbidden(message: &str) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }
    /// A 422 "Validation Failed" with one `errors` entry, as GitHub words them.
    pub fn invalid(message: &str) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({
                "message": "Validation Failed",
                "errors": [{"resource": "Issue", "code": "custom", "message": message}],
                "documentation_url": DOCS,
                "status": "422",
            }),
        }
    }
    /// A 422 whose top-level message is the reason (git refs, reviews).
    pub fn unprocessable(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// A JSON answer with a status.
pub fn json_status(status: StatusCode, v: Value) -> Response {
    (status, Json(v)).into_response()
}

pub fn ok(v: Value) -> ApiResult {
    Ok(json_status(StatusCode::OK, v))
}

pub fn created(v: Value) -> ApiResult {
    Ok(json_status(StatusCode::CREATED, v))
}

pub fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Reads a JSON body, answering 400 "Problems parsing JSON" like GitHub when it is not JSON.
pub fn parse_body(bytes: &[u8]) -> ApiResult<Value> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

/// A required string field, or a 422 naming it.
pub fn req_str<'a>(body: &'a Value, field: &str) -> ApiResult<&'a str> {
    body[field].as_str().ok_or_else(|| {
        ApiError::unprocessable(&format!("Invalid request.\n\n\"{field}\" wasn't supplied."))
    })
}

/// A request's JSON body read by [`parse_body`], as a handler's last argument
/// (`JsonBody(b): JsonBody`) where the body is read before anything else the handler does.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        parse_body(&bytes)
            .map(JsonBody)
            .map_err(IntoResponse::into_response)
    }
}
