//! `demo.MyService`: the seeds' tutorial service, answering exactly as the seeds' Python
//! server does.

use proto::demo::{PredictRequest, PredictResponse, my_service_server::MyService};
use tonic::{Request, Response, Status};

#[derive(Debug, Default)]
pub struct PredictService;

#[tonic::async_trait]
impl MyService for PredictService {
    async fn predict(
        &self,
        request: Request<PredictRequest>,
    ) -> Result<Response<PredictResponse>, Status> {
        let prompt = request.into_inner().prompt;
        // The access log has the call at info; the prompt (user input) only at debug.
        tracing::debug!(%prompt, "received prompt");
        Ok(Response::new(PredictResponse {
            result: format!("Hello, {prompt}!"),
        }))
    }
}
