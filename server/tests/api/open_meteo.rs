//! The Open-Meteo provider against a local HTTP server that replays responses in
//! Open-Meteo's documented format: success and caching, retries, upstream errors and
//! time-outs. No test touches the internet.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use proto::weather::v1::{
    GetCurrentConditionsRequest, GetForecastRequest, Sky, WatchRequest, watch_event,
    weather_service_client::WeatherServiceClient,
};
use server::config::WeatherProvider;
use tonic::Code;

use crate::helpers::{PATIENCE, TestApp, spawn_app_with};

const FORECAST: &str = include_str!("../fixtures/open-meteo-forecast.json");

/// What the replay server answers, in order; the last one repeats.
#[derive(Debug, Clone)]
enum Reply {
    Forecast,
    Status(StatusCode, &'static str),
    Slow(Duration),
}

#[derive(Debug, Default)]
struct Replay {
    replies: Mutex<VecDeque<Reply>>,
    /// The query string of every request received.
    requests: Mutex<Vec<Vec<(String, String)>>>,
}

impl Replay {
    /// The requests for Berlin, the city these tests ask about (the server's readiness
    /// probe asks about another).
    fn requests(&self) -> Vec<Vec<(String, String)>> {
        let berlin = |query: &&Vec<(String, String)>| {
            query
                .iter()
                .any(|(key, value)| key == "latitude" && value.starts_with("52.5"))
        };
        self.requests
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(berlin)
            .cloned()
            .collect()
    }
}

async fn forecast(
    State(replay): State<Arc<Replay>>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    replay.requests.lock().expect("not poisoned").push(query);
    let reply = {
        let mut replies = replay.replies.lock().expect("not poisoned");
        if replies.len() > 1 {
            replies.pop_front()
        } else {
            replies.front().cloned()
        }
    };
    match reply.expect("a reply is scripted") {
        Reply::Forecast => ([("content-type", "application/json")], FORECAST).into_response(),
        Reply::Status(status, reason) => (
            status,
            [("content-type", "application/json")],
            format!(r#"{{"error":true,"reason":"{reason}"}}"#),
        )
            .into_response(),
        Reply::Slow(delay) => {
            tokio::time::sleep(delay).await;
            ([("content-type", "application/json")], FORECAST).into_response()
        }
    }
}

/// Starts the replay server on 127.0.0.1:0 and a server using it as Open-Meteo.
async fn spawn_with_replay(
    replies: Vec<Reply>,
    configure: impl FnOnce(&mut server::Config),
) -> (TestApp, Arc<Replay>) {
    let replay = Arc::new(Replay {
        replies: Mutex::new(replies.into()),
        requests: Mutex::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let router = Router::new()
        .route("/v1/forecast", get(forecast))
        .with_state(Arc::clone(&replay));
    // Stopped with the test's runtime.
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = spawn_app_with(|config| {
        config.weather_provider = WeatherProvider::OpenMeteo;
        config.open_meteo_url = url;
        config.provider_timeout = Duration::from_millis(300);
        // No readiness probe in these tests unless one asks for it: its requests would take
        // the scripted replies.
        config.readiness_interval = Duration::from_secs(3600);
        configure(config);
    })
    .await;
    (app, replay)
}

#[tokio::test]
async fn conditions_and_forecast_come_from_one_cached_request() {
    let (app, replay) = spawn_with_replay(vec![Reply::Forecast], |_| {}).await;
    let mut client = WeatherServiceClient::new(app.native_channel().await);
    let reading = client
        .get_current_conditions(GetCurrentConditionsRequest {
            city_id: "berlin-de".into(),
        })
        .await
        .expect("current")
        .into_inner();
    let conditions = reading.conditions.expect("conditions");
    assert_eq!(conditions.temperature_c, 4.2);
    assert_eq!(conditions.feels_like_c, 0.9);
    assert_eq!(conditions.sky(), Sky::Rain);
    assert_eq!(conditions.humidity_percent, 81);
    assert_eq!(
        reading.observed_at.expect("time").seconds,
        1_795_219_200 + 12 * 3600 + 900
    );

    let forecast = client
        .get_forecast(GetForecastRequest {
            city_id: "berlin-de".into(),
        })
        .await
        .expect("forecast")
        .into_inner();
    assert_eq!(forecast.hourly.len(), 48);
    assert_eq!(forecast.daily.len(), 7);
    assert_eq!(forecast.daily[0].date, "2026-11-21");
    assert_eq!(forecast.daily[1].temperature_max_c, 5.0);

    // One request served both calls, for Berlin's coordinates, asking what the docs name.
    let requests = replay.requests();
    assert_eq!(requests.len(), 1, "the second call came from the cache");
    let param = |name: &str| {
        requests[0]
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    assert!(param("latitude").starts_with("52.5"), "{requests:?}");
    assert!(param("longitude").starts_with("13.4"), "{requests:?}");
    assert_eq!(param("timeformat"), "unixtime");
    assert!(param("current").contains("weather_code"));
}

#[tokio::test]
async fn past_its_freshness_bound_the_cache_asks_again() {
    let (app, replay) = spawn_with_replay(vec![Reply::Forecast], |config| {
        config.provider_max_age = Duration::ZERO;
    })
    .await;
    let mut client = WeatherServiceClient::new(app.native_channel().await);
    for _ in 0..2 {
        client
            .get_forecast(GetForecastRequest {
                city_id: "berlin-de".into(),
            })
            .await
            .expect("forecast");
    }
    assert_eq!(replay.requests().len(), 2);
}

#[tokio::test]
async fn a_passing_failure_is_retried() {
    let (app, replay) = spawn_with_replay(
        vec![
            Reply::Status(StatusCode::SERVICE_UNAVAILABLE, "busy"),
            Reply::Forecast,
        ],
        |_| {},
    )
    .await;
    let mut client = WeatherServiceClient::new(app.native_channel().await);
    client
        .get_current_conditions(GetCurrentConditionsRequest {
            city_id: "berlin-de".into(),
        })
        .await
        .expect("the retry succeeds");
    assert_eq!(replay.requests().len(), 2);
}

#[tokio::test]
async fn an_upstream_that_keeps_failing_is_unavailable_after_three_attempts() {
    let (app, replay) = spawn_with_replay(
        vec![Reply::Status(StatusCode::BAD_GATEWAY, "upstream down")],
        |_| {},
    )
    .await;
    let mut client = WeatherServiceClient::new(app.native_channel().await);
    let status = client
        .get_forecast(GetForecastRequest {
            city_id: "berlin-de".into(),
        })
        .await
        .expect_err("unavailable");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        "the weather provider is unavailable: Open-Meteo did not answer after 3 attempts: \
         502 Bad Gateway: upstream down; try again later"
    );
    assert_eq!(replay.requests().len(), 3);
}

#[tokio::test]
async fn a_refused_request_is_not_retried() {
    let (app, replay) = spawn_with_replay(
        vec![Reply::Status(
            StatusCode::BAD_REQUEST,
            "Latitude must be in range of -90 to 90°.",
        )],
        |_| {},
    )
    .await;
    let mut client = WeatherServiceClient::new(app.native_channel().await);
    let status = client
        .get_current_conditions(GetCurrentConditionsRequest {
            city_id: "berlin-de".into(),
        })
        .await
        .expect_err("unavailable");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status
            .message()
            .contains("refused the request: 400 Bad Request: Latitude must be in range"),
        "{}",
        status.message()
    );
    assert_eq!(replay.requests().len(), 1);
}

#[tokio::test]
async fn a_slow_upstream_times_out() {
    let (app, replay) = spawn_with_replay(vec![Reply::Slow(Duration::from_secs(5))], |_| {}).await;
    let mut client = WeatherServiceClient::new(app.native_channel().await);
    let status = tokio::time::timeout(
        PATIENCE,
        client.get_current_conditions(GetCurrentConditionsRequest {
            city_id: "berlin-de".into(),
        }),
    )
    .await
    .expect("the provider's time limit answers first")
    .expect_err("unavailable");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("after 3 attempts: timed out"),
        "{}",
        status.message()
    );
    assert_eq!(replay.requests().len(), 3);
}

#[tokio::test]
async fn live_updates_work_on_the_real_provider_too() {
    let (app, _replay) = spawn_with_replay(vec![Reply::Forecast], |_| {}).await;
    let mut client = WeatherServiceClient::new(app.native_channel().await);
    let mut stream = client
        .watch(WatchRequest {
            city_ids: vec!["berlin-de".into()],
        })
        .await
        .expect("watch")
        .into_inner();
    let event = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("at once")
        .expect("no error")
        .expect("an event");
    match event.event {
        Some(watch_event::Event::Update(update)) => {
            let conditions = update.conditions.expect("conditions");
            assert_eq!(conditions.conditions.expect("values").temperature_c, 4.2);
        }
        other => panic!("expected an update, got {other:?}"),
    }
}

#[tokio::test]
async fn the_weather_services_health_follows_its_provider() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let (app, replay) = spawn_with_replay(
        vec![Reply::Status(StatusCode::SERVICE_UNAVAILABLE, "down")],
        |config| config.readiness_interval = Duration::from_millis(200),
    )
    .await;
    let health = HealthClient::new(app.native_channel().await);
    let status_of = |service: &'static str| {
        let mut health = health.clone();
        async move {
            health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .expect("health answers")
                .into_inner()
                .status()
        }
    };
    app.wait_until(|| async {
        status_of("weather.v1.WeatherService").await == ServingStatus::NotServing
    })
    .await;
    // The rest of the server does not depend on the provider.
    assert_eq!(status_of("Greeter").await, ServingStatus::Serving);
    assert_eq!(status_of("").await, ServingStatus::Serving);

    // The provider recovers: so does the service's health.
    {
        let mut replies = replay.replies.lock().expect("not poisoned");
        replies.clear();
        replies.push_back(Reply::Forecast);
    }
    app.wait_until(|| async {
        status_of("weather.v1.WeatherService").await == ServingStatus::Serving
    })
    .await;
}
