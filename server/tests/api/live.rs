//! Forecasts, and the multi-city Watch stream: first readings at once, heartbeats when
//! quiet, bounds, and a slow subscriber that skips instead of holding back the others.

use std::{collections::HashSet, time::Duration};

use proto::weather::v1::{
    GetForecastRequest, WatchEvent, WatchRequest, watch_event,
    weather_service_client::WeatherServiceClient,
};
use tonic::{Code, Streaming, transport::Endpoint};

use crate::helpers::{PATIENCE, over_both_transports, spawn_app_with};

async fn next_event(stream: &mut Streaming<WatchEvent>) -> watch_event::Event {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("an event within the test's patience")
        .expect("no error")
        .expect("the stream goes on")
        .event
        .expect("an event")
}

fn watch(ids: &[&str]) -> WatchRequest {
    WatchRequest {
        city_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
    }
}

over_both_transports! {
    async fn the_forecast_has_48_hours_and_7_local_days(app, channel) {
        let mut client = WeatherServiceClient::with_origin(channel, app.uri());
        let forecast = client
            .get_forecast(GetForecastRequest { city_id: "sydney-au".into() })
            .await
            .expect("forecast")
            .into_inner();
        assert_eq!(forecast.city.expect("city").id, "sydney-au");
        assert_eq!(forecast.hourly.len(), 48);
        assert_eq!(forecast.daily.len(), 7);
        let now = chrono::Utc::now().timestamp();
        let first = forecast.hourly[0].time.expect("time").seconds;
        assert!(first <= now && now < first + 3600, "starts with the current hour");
        let times: Vec<i64> = forecast.hourly.iter().map(|h| h.time.expect("time").seconds).collect();
        assert!(times.windows(2).all(|w| w[1] - w[0] == 3600));
        // Dates are Sydney's, from today on.
        let today = (chrono::Utc::now() + chrono::Duration::seconds(forecast.utc_offset_seconds.into()))
            .date_naive()
            .to_string();
        assert_eq!(forecast.daily[0].date, today);
        assert!(forecast.daily.iter().all(|d| d.temperature_min_c <= d.temperature_max_c));

        let status = client
            .get_forecast(GetForecastRequest { city_id: "atlantis".into() })
            .await
            .expect_err("unknown city");
        assert_eq!(status.code(), Code::NotFound);
    }
}

over_both_transports! {
    async fn watch_sends_every_city_at_once_then_heartbeats_when_quiet(app, channel)
    configured |config| {
        // No update due for an hour: all that follows the first readings is heartbeats.
        config.live_interval = Duration::from_secs(3600);
        config.heartbeat = Duration::from_secs(1);
    };
    {
        let mut client = WeatherServiceClient::with_origin(channel, app.uri());
        let mut stream = client
            .watch(watch(&["paris-fr", "tokyo-jp", "lima-pe"]))
            .await
            .expect("watch starts")
            .into_inner();
        let mut first = HashSet::new();
        for _ in 0..3 {
            match next_event(&mut stream).await {
                watch_event::Event::Update(update) => {
                    assert_eq!(update.skipped, 0);
                    first.insert(update.conditions.expect("conditions").city.expect("city").id);
                }
                other => panic!("expected the first readings, got {other:?}"),
            }
        }
        assert_eq!(first, HashSet::from(["paris-fr".into(), "tokyo-jp".into(), "lima-pe".into()]));
        assert_eq!(*app.hub.producers().borrow(), 3, "one producer per city");

        for _ in 0..2 {
            match next_event(&mut stream).await {
                watch_event::Event::Heartbeat(beat) => assert!(beat.sent_at.is_some()),
                other => panic!("expected a heartbeat, got {other:?}"),
            }
        }
        drop(stream);
        app.wait_for_no_producers().await;
    }
}

over_both_transports! {
    async fn watch_bounds_name_the_field(app, channel) {
        let mut client = WeatherServiceClient::with_origin(channel, app.uri());
        let status = client.watch(watch(&[])).await.expect_err("no city");
        assert_eq!(status.message(), "city_ids: must name 1 to 20 cities, got 0");
        let many: Vec<String> = (0..21).map(|n| format!("city-{n}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let status = client.watch(watch(&many)).await.expect_err("too many");
        assert_eq!(status.code(), Code::InvalidArgument);
        let status = client.watch(watch(&["oslo-no", "oslo-no"])).await.expect_err("twice");
        assert_eq!(status.message(), "city_ids: 'oslo-no' is named twice");
        let status = client.watch(watch(&["oslo-no", "atlantis"])).await.expect_err("unknown");
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "no city with id 'atlantis'");
        app.wait_for_no_producers().await;
    }
}

#[tokio::test]
async fn a_slow_subscriber_skips_to_the_newest_and_never_holds_back_the_others() {
    let app = spawn_app_with(|config| config.live_interval = Duration::from_millis(50)).await;
    let fast_channel = app.native_channel().await;
    // A tiny HTTP/2 window: once a few updates are unread, the server cannot send this
    // subscriber more, exactly as with a client on a slow link.
    let slow_channel = Endpoint::from_shared(app.url())
        .expect("valid")
        .initial_stream_window_size(Some(1024))
        .initial_connection_window_size(Some(1024))
        .connect()
        .await
        .expect("connects");
    // Twenty cities, so that changes come several times a second (each city's rounded
    // conditions change about once a second or two).
    let cities = [
        "mumbai-in",
        "delhi-in",
        "lagos-ng",
        "cairo-eg",
        "lima-pe",
        "paris-fr",
        "oslo-no",
        "tokyo-jp",
        "sydney-au",
        "moscow-ru",
        "london-gb",
        "madrid-es",
        "rome-it",
        "berlin-de",
        "nairobi-ke",
        "bogota-co",
        "santiago-cl",
        "toronto-ca",
        "chicago-us",
        "seoul-kr",
    ];
    let mut slow = WeatherServiceClient::new(slow_channel)
        .watch(watch(&cities))
        .await
        .expect("watch starts")
        .into_inner();
    let mut fast = WeatherServiceClient::new(fast_channel)
        .watch(watch(&cities))
        .await
        .expect("watch starts")
        .into_inner();

    // The fast subscriber reads 80 updates (the 20 first readings, then 60 changes) while
    // the slow one reads nothing.
    let mut fast_seen = 0;
    while fast_seen < 80 {
        if let watch_event::Event::Update(update) = next_event(&mut fast).await {
            assert_eq!(update.skipped, 0, "a reader that keeps up misses nothing");
            fast_seen += 1;
        }
    }

    // Now the slow one reads: a few buffered updates, then jumps to the newest of each city.
    let mut skipped = 0;
    let mut updates = 0;
    while skipped == 0 && updates < fast_seen {
        if let watch_event::Event::Update(update) = next_event(&mut slow).await {
            skipped += update.skipped;
            updates += 1;
        }
    }
    assert!(
        skipped > 0,
        "the slow subscriber was told it skipped ({updates} read)"
    );
    assert!(
        updates < fast_seen,
        "no backlog: it jumped instead of reading all {updates}"
    );
}
