//! The embedded city catalog (`data/cities.tsv`): parsed once at start, searched by name.

use std::{collections::HashMap, sync::Arc};

use chrono_tz::Tz;

const CITIES_TSV: &str = include_str!("../../data/cities.tsv");

/// A city the weather service knows.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    /// Lowercase ASCII name and country code, e.g. `paris-fr`, `sao-paulo-br`.
    pub id: String,
    pub name: String,
    pub country_code: String,
    pub country: String,
    pub latitude: f64,
    pub longitude: f64,
    pub time_zone: Tz,
    pub population: u64,
    /// Lowercase, accents folded: what search matches against.
    search_key: String,
}

/// Every city, by id and in search order (largest first).
#[derive(Debug)]
pub struct Catalog {
    by_population: Vec<Arc<City>>,
    by_id: HashMap<String, Arc<City>>,
}

impl Catalog {
    /// The catalog compiled into the binary. Its validity is a unit test, so this cannot
    /// fail at run time.
    pub fn embedded() -> Self {
        Self::parse(CITIES_TSV).expect("data/cities.tsv is valid (checked by unit tests)")
    }

    /// Parses `name, country code, country, lat, lon, time zone, population`, tab separated,
    /// one city a line; `#` starts a comment line.
    pub fn parse(tsv: &str) -> Result<Self, String> {
        let mut cities = Vec::new();
        for (index, line) in tsv.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let city = parse_line(line).map_err(|error| format!("line {}: {error}", index + 1))?;
            cities.push(Arc::new(city));
        }
        cities.sort_by(|a, b| b.population.cmp(&a.population).then(a.name.cmp(&b.name)));

        let mut by_id = HashMap::with_capacity(cities.len());
        for city in &cities {
            if by_id.insert(city.id.clone(), Arc::clone(city)).is_some() {
                return Err(format!("duplicate city id '{}'", city.id));
            }
        }
        Ok(Self {
            by_population: cities,
            by_id,
        })
    }

    pub fn len(&self) -> usize {
        self.by_population.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_population.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Arc<City>> {
        self.by_id.get(id)
    }

    /// Cities with a word of their name starting with `query` (case and accents ignored),
    /// those whose whole name starts with it first, then by population. An empty query
    /// matches every city.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Arc<City>> {
        let query = fold(query.trim());
        let mut prefix = Vec::new();
        let mut word = Vec::new();
        for city in &self.by_population {
            if city.search_key.starts_with(&query) {
                prefix.push(city);
            } else if city
                .search_key
                .split([' ', '-', '\''])
                .any(|part| part.starts_with(&query))
            {
                word.push(city);
            }
            if prefix.len() >= limit {
                break;
            }
        }
        prefix
            .into_iter()
            .chain(word)
            .take(limit)
            .cloned()
            .collect()
    }
}

fn parse_line(line: &str) -> Result<City, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [
        name,
        country_code,
        country,
        latitude,
        longitude,
        time_zone,
        population,
    ] = fields.as_slice()
    else {
        return Err(format!(
            "expected 7 tab-separated fields, found {}",
            fields.len()
        ));
    };
    let latitude: f64 = latitude
        .parse()
        .map_err(|_| format!("bad latitude '{latitude}'"))?;
    let longitude: f64 = longitude
        .parse()
        .map_err(|_| format!("bad longitude '{longitude}'"))?;
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return Err(format!("coordinates out of range: {latitude}, {longitude}"));
    }
    let time_zone: Tz = time_zone
        .parse()
        .map_err(|_| format!("unknown time zone '{time_zone}'"))?;
    let population = population
        .parse()
        .map_err(|_| format!("bad population '{population}'"))?;
    if country_code.len() != 2 || !country_code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("bad country code '{country_code}'"));
    }
    let search_key = fold(name);
    let slug: String = search_key
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' => Some(c),
            ' ' | '-' => Some('-'),
            _ => None,
        })
        .collect();
    Ok(City {
        id: format!("{slug}-{}", country_code.to_ascii_lowercase()),
        name: (*name).to_owned(),
        country_code: (*country_code).to_owned(),
        country: (*country).to_owned(),
        latitude,
        longitude,
        time_zone,
        population,
        search_key,
    })
}

/// Lowercases and strips the Latin accents that occur in city names, so `sao` finds
/// São Paulo and `zurich` finds Zürich.
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ý' | 'ÿ' => 'y',
            'ł' => 'l',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_is_valid_and_large_enough() {
        let catalog = Catalog::parse(CITIES_TSV).expect("valid catalog");
        assert!(catalog.len() >= 100, "only {} cities", catalog.len());
        let paris = catalog.get("paris-fr").expect("Paris");
        assert_eq!(paris.time_zone, chrono_tz::Europe::Paris);
        assert!(catalog.get("sao-paulo-br").is_some());
        assert!(catalog.get("ho-chi-minh-city-vn").is_some());
    }

    #[test]
    fn search_ignores_case_and_accents_and_ranks_by_population() {
        let catalog = Catalog::embedded();
        let names = |query: &str| -> Vec<String> {
            catalog
                .search(query, 5)
                .iter()
                .map(|c| c.name.clone())
                .collect()
        };
        assert_eq!(names("ZUR"), ["Zürich"]);
        assert_eq!(names("sao")[0], "São Paulo");
        // Whole-name prefixes first (by population), then a later word ("New York").
        assert_eq!(names("york"), ["New York"]);
        assert_eq!(names("new")[0], "New York");
        let shanghai_first = names("sh");
        assert_eq!(shanghai_first[0], "Shanghai");
        assert!(names("xyzzy").is_empty());
        assert_eq!(catalog.search("", 7).len(), 7);
        assert_eq!(catalog.search("", 7)[0].name, "Shanghai");
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let error = Catalog::parse("# header\nX\tXX\tX\t1\t2\tNowhere/City\t3\n")
            .expect_err("bad time zone");
        assert_eq!(error, "line 2: unknown time zone 'Nowhere/City'");
    }
}
