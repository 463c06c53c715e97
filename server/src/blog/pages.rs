//! Pagination as AIP-158 has it, for every list of the blog: `page_size` (0 for the
//! default, at most a maximum) and an opaque `page_token` naming where the next page starts.

use base64::Engine as _;

use crate::error::ApiError;

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

/// The page size asked for, or INVALID_ARGUMENT naming `page_size`.
pub fn size(asked: i32) -> Result<i32, ApiError> {
    match asked {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size @ 1..=MAX_PAGE_SIZE => Ok(size),
        other => Err(ApiError::invalid(
            "page_size",
            format!("must be 1 to {MAX_PAGE_SIZE} (0 for {DEFAULT_PAGE_SIZE}), got {other}"),
        )),
    }
}

/// The token for a page starting after `position` (a list's own cursor text).
pub fn token(position: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position)
}

/// The position a token names, or INVALID_ARGUMENT naming `page_token`.
pub fn position(token: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(not_ours)
}

/// The error for a token this server did not give out.
pub fn not_ours() -> ApiError {
    ApiError::invalid("page_token", "is not a token this server gave out")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_tokens() {
        assert_eq!(size(0).expect("default"), DEFAULT_PAGE_SIZE);
        assert_eq!(size(7).expect("size"), 7);
        assert!(size(101).is_err() && size(-1).is_err());
        assert_eq!(position(&token("12:ab")).expect("round trip"), "12:ab");
        assert!(position("not base64!").is_err());
    }
}
