//! What every call carries, added in one place: an interceptor on the shared channel, so no
//! call site can forget it.

use std::{sync::Arc, time::Duration};

use tonic::{Request, Status, metadata::AsciiMetadataValue, service::Interceptor};

use crate::args::Header;

/// Adds the bearer token, the `-H` metadata and the deadline (`grpc-timeout`) to every
/// request.
#[derive(Debug, Clone)]
pub struct CallMetadata {
    authorization: Option<AsciiMetadataValue>,
    headers: Arc<[Header]>,
    deadline: Option<Duration>,
}

impl CallMetadata {
    /// `token` as `flags::Token` accepts it: visible ASCII, so always a valid value.
    pub fn new(token: Option<String>, headers: Vec<Header>, deadline: Option<Duration>) -> Self {
        Self {
            authorization: token.map(|token| {
                AsciiMetadataValue::try_from(format!("Bearer {token}"))
                    .expect("a token of visible ASCII is a valid metadata value")
            }),
            headers: headers.into(),
            deadline,
        }
    }
}

impl Interceptor for CallMetadata {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        for header in self.headers.iter() {
            request
                .metadata_mut()
                .append(header.key.clone(), header.value.clone());
        }
        if let Some(deadline) = self.deadline {
            request.set_timeout(deadline);
        }
        Ok(request)
    }
}
