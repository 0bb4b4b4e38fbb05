//! A token handed over by the caller (`-AccessToken`, `-Token`): used as it
//! is, never renewed.

use super::{Token, TokenSource};
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use async_trait::async_trait;

pub struct StaticToken;

#[async_trait]
impl TokenSource for StaticToken {
    async fn acquire(&self, _log: &CallLog) -> Result<Token> {
        // Only reached when the cached token is gone, which cannot happen
        // for a given token; the cache reports expiry itself.
        Err(Error::new(
            ErrorKind::Authentication,
            super::EXPIRED_MESSAGE.to_string(),
        ))
    }

    fn renewable(&self) -> bool {
        false
    }
}
