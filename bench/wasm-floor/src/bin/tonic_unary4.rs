//! Four unary methods of four services: what each further method adds.
use prost::Message;
use proto::{
    blog::v1::{GetPostRequest, post_service_client::PostServiceClient},
    files::v1::{GetUploadRequest, file_service_client::FileServiceClient},
    greeter::{HelloRequest, greeter_client::GreeterClient},
    weather::v1::{GetForecastRequest, weather_service_client::WeatherServiceClient},
};
fn c() -> tonic_web_wasm_client::Client {
    tonic_web_wasm_client::Client::new("http://x".into())
}
fn log(s: String) {
    web_sys::console::log_1(&s.into());
}
fn main() {
    wasm_bindgen_futures::spawn_local(async {
        match GreeterClient::new(c())
            .say_hello(HelloRequest { name: "a".into() })
            .await
        {
            Ok(r) => log(r.into_inner().message),
            Err(s) => log(s.message().to_owned()),
        }
        match PostServiceClient::new(c())
            .get_post(GetPostRequest::default())
            .await
        {
            Ok(r) => log(r.into_inner().title),
            Err(s) => log(s.message().to_owned()),
        }
        match FileServiceClient::new(c())
            .get_upload(GetUploadRequest::default())
            .await
        {
            Ok(r) => log(format!("{}", r.into_inner().received)),
            Err(s) => log(s.message().to_owned()),
        }
        match WeatherServiceClient::new(c())
            .get_forecast(GetForecastRequest::default())
            .await
        {
            Ok(r) => log(format!("{}", r.into_inner().encoded_len())),
            Err(s) => log(s.message().to_owned()),
        }
    });
}
