//! Grants beyond client credentials, password and refresh token
//! (authorization code, device code, client assertion): the sign-in issue.

use super::directory::App;
use super::identity::{aad_error, TokenForm};
use super::EmulatorState;
use axum::http::StatusCode;
use axum::response::Response;

/// Answer a token request of another grant type, or `None` if unknown.
pub fn token_grant(_state: &EmulatorState, _grant: &str, _form: &TokenForm) -> Option<Response> {
    None
}

/// Verify a client assertion (RS256 JWT signed with the app's certificate).
pub fn check_client_assertion(
    _state: &EmulatorState,
    app: &App,
    _form: &TokenForm,
) -> Result<(), Response> {
    Err(aad_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        700027,
        &format!(
            "Client assertion failed signature validation: app '{}' has no certificate registered.",
            app.client_id
        ),
    ))
}

/// Routes of the other sign-in endpoints (authorize, device code, managed identity).
pub fn routes() -> axum::Router<std::sync::Arc<EmulatorState>> {
    axum::Router::new()
}
