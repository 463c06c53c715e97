//! The units the page shows, chosen by the user and remembered across visits. Values
//! arrive in °C and km/h; conversion happens only for display.

use leptos::prelude::*;

use crate::storage;

const KEY: &str = "units";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Units {
    /// °C, km/h, mm.
    #[default]
    Metric,
    /// °F, mph, in.
    Imperial,
}

impl Units {
    fn load() -> Self {
        match storage::get(KEY).as_deref() {
            Some("imperial") => Self::Imperial,
            _ => Self::Metric,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Metric => "metric",
            Self::Imperial => "imperial",
        }
    }

    /// A temperature given in °C, with its unit: `21.5°C`, `70.7°F`.
    pub fn temperature(self, celsius: f64) -> String {
        match self {
            Self::Metric => format!("{celsius:.1}°C"),
            Self::Imperial => format!("{:.1}°F", celsius * 9.0 / 5.0 + 32.0),
        }
    }

    /// A temperature given in °C, rounded to a whole degree, no unit: `22°`.
    pub fn degrees(self, celsius: f64) -> String {
        match self {
            Self::Metric => format!("{}°", celsius.round()),
            Self::Imperial => format!("{}°", (celsius * 9.0 / 5.0 + 32.0).round()),
        }
    }

    /// A speed given in km/h: `12.3 km/h`, `7.6 mph`.
    pub fn speed(self, kmh: f64) -> String {
        match self {
            Self::Metric => format!("{kmh:.1} km/h"),
            Self::Imperial => format!("{:.1} mph", kmh / 1.609_344),
        }
    }

    /// A precipitation amount given in mm: `1.2 mm`, `0.05 in`.
    pub fn precipitation(self, mm: f64) -> String {
        match self {
            Self::Metric => format!("{mm:.1} mm"),
            Self::Imperial => format!("{:.2} in", mm / 25.4),
        }
    }
}

/// The page's units, shared by every view that shows a value, from the app's context.
pub fn use_units() -> RwSignal<Units> {
    use_context::<RwSignal<Units>>().unwrap_or_else(|| RwSignal::new(Units::Metric))
}

/// Puts the remembered units in context and stores every change.
pub fn provide_units() {
    let units = RwSignal::new(Units::load());
    Effect::new(move || storage::set(KEY, units.get().key()));
    provide_context(units);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(Units::Metric.temperature(21.54), "21.5°C");
        assert_eq!(Units::Imperial.temperature(100.0), "212.0°F");
        assert_eq!(Units::Imperial.degrees(-40.0), "-40°");
        assert_eq!(Units::Imperial.speed(16.09344), "10.0 mph");
        assert_eq!(Units::Imperial.precipitation(25.4), "1.00 in");
        assert_eq!(Units::Metric.precipitation(0.04), "0.0 mm");
    }
}
