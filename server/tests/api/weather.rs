//! `weather.v1.WeatherService`: search, current conditions, live updates and their
//! cancellation, observed on the server side.

use std::time::{SystemTime, UNIX_EPOCH};

use proto::weather::v1::{
    GetCurrentConditionsRequest, SearchCitiesRequest, WatchConditionsRequest,
    weather_service_client::WeatherServiceClient,
};
use tonic::Code;

use crate::helpers::{PATIENCE, over_both_transports};

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

over_both_transports! {
    async fn search_finds_cities_by_prefix_largest_first(app, channel) {
        let mut client = WeatherServiceClient::with_origin(channel, app.uri());
        let cities = client
            .search_cities(SearchCitiesRequest { query: "par".into(), limit: 5 })
            .await
            .expect("search succeeds")
            .into_inner()
            .cities;
        assert_eq!(cities[0].id, "paris-fr");
        assert_eq!(cities[0].time_zone, "Europe/Paris");

        let all = client
            .search_cities(SearchCitiesRequest { query: String::new(), limit: 0 })
            .await
            .expect("search succeeds")
            .into_inner()
            .cities;
        assert_eq!(all.len(), 10, "limit 0 means the default of 10");
        assert!(all.windows(2).all(|pair| pair[0].population >= pair[1].population));

        let status = client
            .search_cities(SearchCitiesRequest { query: "a".into(), limit: 51 })
            .await
            .expect_err("limit too large");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "limit: must be at most 50, got 51");
    }
}

over_both_transports! {
    async fn current_conditions_for_a_known_city(app, channel) {
        let mut client = WeatherServiceClient::with_origin(channel, app.uri());
        let reading = client
            .get_current_conditions(GetCurrentConditionsRequest { city_id: "tokyo-jp".into() })
            .await
            .expect("known city")
            .into_inner();
        let city = reading.city.expect("city");
        assert_eq!(city.name, "Tokyo");
        assert_eq!(reading.utc_offset_seconds, 9 * 3600);
        let conditions = reading.conditions.expect("conditions");
        assert!((-30.0..45.0).contains(&conditions.temperature_c), "{conditions:?}");
        assert!(conditions.humidity_percent <= 100);
        assert_ne!(conditions.sky(), proto::weather::v1::Sky::Unspecified);
        let observed = reading.observed_at.expect("timestamp").seconds;
        assert!((unix_now() - observed).abs() <= 5, "observed now");
    }
}

over_both_transports! {
    async fn unknown_or_missing_city_is_refused(app, channel) {
        let mut client = WeatherServiceClient::with_origin(channel, app.uri());
        let status = client
            .get_current_conditions(GetCurrentConditionsRequest { city_id: "atlantis".into() })
            .await
            .expect_err("unknown city");
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "no city with id 'atlantis'");

        let status = client
            .get_current_conditions(GetCurrentConditionsRequest::default())
            .await
            .expect_err("no city");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "city_id: must not be empty");

        let status = client
            .watch_conditions(WatchConditionsRequest { city_id: "atlantis".into() })
            .await
            .expect_err("unknown city");
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(*app.hub.producers().borrow(), 0, "no producer for a refused watch");
    }
}

over_both_transports! {
    async fn live_updates_arrive_and_stop_when_the_client_leaves(app, channel) {
        let mut client = WeatherServiceClient::with_origin(channel, app.uri());
        let mut stream = client
            .watch_conditions(WatchConditionsRequest { city_id: "paris-fr".into() })
            .await
            .expect("watch starts")
            .into_inner();

        let mut observed = Vec::new();
        for _ in 0..3 {
            let reading = tokio::time::timeout(PATIENCE, stream.message())
                .await
                .expect("an update in time")
                .expect("no error")
                .expect("stream open");
            assert_eq!(reading.city.expect("city").id, "paris-fr");
            let at = reading.observed_at.expect("timestamp");
            observed.push((at.seconds, at.nanos));
        }
        assert!(observed.windows(2).all(|pair| pair[0] < pair[1]), "{observed:?}");
        assert_eq!(app.hub.subscribers("paris-fr"), 1);

        // The client goes away: the server must notice and stop producing for it.
        drop(stream);
        drop(client);
        app.wait_for_no_producers().await;
        assert_eq!(app.hub.subscribers("paris-fr"), 0);
    }
}

over_both_transports! {
    async fn watchers_of_one_city_share_one_producer(app, channel) {
        let mut client = WeatherServiceClient::with_origin(channel, app.uri());
        let mut streams = Vec::new();
        for city_id in ["oslo-no", "oslo-no", "oslo-no", "lima-pe"] {
            let mut stream = client
                .watch_conditions(WatchConditionsRequest { city_id: city_id.into() })
                .await
                .expect("watch starts")
                .into_inner();
            stream.message().await.expect("no error").expect("first reading");
            streams.push(stream);
        }
        assert_eq!(app.hub.subscribers("oslo-no"), 3);
        assert_eq!(*app.hub.producers().borrow(), 2, "one producer per city");
        drop(streams);
        app.wait_for_no_producers().await;
    }
}

over_both_transports! {
    /// The server, not the client, ends a stream at its `grpc-timeout`.
    async fn a_stream_past_its_deadline_ends_with_deadline_exceeded(app, channel) {
        let mut client = WeatherServiceClient::with_origin(channel, app.uri());
        let mut request = tonic::Request::new(WatchConditionsRequest { city_id: "lima-pe".into() });
        request.set_timeout(std::time::Duration::from_millis(600));
        let mut stream = client.watch_conditions(request).await.expect("watch starts").into_inner();

        let mut readings = 0;
        let status = tokio::time::timeout(PATIENCE, async {
            loop {
                match stream.message().await {
                    Ok(Some(_)) => readings += 1,
                    Ok(None) => panic!("the stream ended without a status"),
                    Err(status) => break status,
                }
            }
        })
        .await
        .expect("the deadline ends the stream");
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        // The current reading comes at once; later ones only when the conditions change.
        assert!(readings >= 1, "the stream was running: {readings}");
        app.wait_for_no_producers().await;
    }
}
