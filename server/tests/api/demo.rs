//! `demo.MyService.Predict`, answering as the seeds' Python server does.

use proto::demo::{PredictRequest, my_service_client::MyServiceClient};

use crate::helpers::over_both_transports;

over_both_transports! {
    async fn predict_answers_like_the_seed_server(app, channel) {
        let mut client = MyServiceClient::with_origin(channel, app.uri());
        let reply = client
            .predict(PredictRequest { prompt: "World111".into() })
            .await
            .expect("Predict succeeds");
        assert_eq!(reply.into_inner().result, "Hello, World111!");

        // The seed server has no validation: an empty prompt is greeted too.
        let reply = client
            .predict(PredictRequest::default())
            .await
            .expect("Predict succeeds");
        assert_eq!(reply.into_inner().result, "Hello, !");
    }
}
