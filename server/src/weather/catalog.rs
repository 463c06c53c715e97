//! The embedded city catalog: every city of 100,000 people or more, from GeoNames
//! (https://www.geonames.org, CC BY 4.0), generated into `data/cities.tsv` by
//! `data/make_cities.py`. The build compresses it into the binary (about 170 KB instead of
//! 450 KB); it is decompressed and parsed once at start, each city with its climate
//! (`climate.rs`).

use std::{collections::HashMap, io::Read, sync::Arc};

use chrono_tz::Tz;

use super::climate::{self, Normals};

const CITIES_TSV_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cities.tsv.gz"));

/// A city the weather service knows.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    /// Lowercase ASCII name and country code, e.g. `paris-fr`, `sao-paulo-br`; with the
    /// region too when two cities would share one (`san-jose-california-us`).
    pub id: String,
    pub name: String,
    /// The name in plain ASCII (`Sao Paulo`).
    pub ascii_name: String,
    pub country_code: String,
    pub country: String,
    /// First-level division: state, province, region (may be empty).
    pub region: String,
    pub latitude: f64,
    pub longitude: f64,
    pub time_zone: Tz,
    pub population: u64,
    /// Its climate: monthly normals (`climate.rs`), which the offline model follows.
    pub normals: Normals,
    /// Lowercase, folded to ASCII: what search matches against.
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
        std::thread::scope(|scope| {
            // The normals, the larger file, are read beside the cities: half the time.
            let normals = scope.spawn(climate::embedded);
            let cities = parse_cities(&embedded_tsv());
            let mut normals = normals.join().expect("reading the normals does not panic");
            cities
                .map(|cities| {
                    cities
                        .into_iter()
                        .map(|mut city| {
                            if let Some(found) = normals.remove(&city.id) {
                                city.normals = found;
                            }
                            city
                        })
                        .collect()
                })
                .and_then(Self::index)
                .expect("data/cities.tsv is valid (checked by unit tests)")
        })
    }

    /// Parses `id, name, ASCII name, country code, country, region, latitude, longitude,
    /// time zone, population`, tab separated, one city a line; `#` starts a comment line.
    /// Each city's climate comes from its latitude ([`Normals::from_latitude`]).
    pub fn parse(tsv: &str) -> Result<Self, String> {
        parse_cities(tsv).and_then(Self::index)
    }

    /// The catalog of `cities`, each once.
    fn index(cities: Vec<City>) -> Result<Self, String> {
        let mut cities: Vec<Arc<City>> = cities.into_iter().map(Arc::new).collect();
        cities.sort_by(|a, b| b.population.cmp(&a.population).then(a.id.cmp(&b.id)));

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

    /// Cities with a word of their name starting with `query` (case and accents ignored:
    /// `zurich` and `ZÜR` both find Zürich), those whose whole name starts with it first,
    /// each group by population. At most `limit`. An empty query matches every city.
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

fn embedded_tsv() -> String {
    let mut tsv = String::new();
    flate2::read::GzDecoder::new(CITIES_TSV_GZ)
        .read_to_string(&mut tsv)
        .expect("the build compressed valid UTF-8");
    tsv
}

/// The cities of `tsv` ([`Catalog::parse`]), in file order.
fn parse_cities(tsv: &str) -> Result<Vec<City>, String> {
    let mut cities = Vec::new();
    for (index, line) in tsv.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        cities.push(parse_line(line).map_err(|error| format!("line {}: {error}", index + 1))?);
    }
    Ok(cities)
}

fn parse_line(line: &str) -> Result<City, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [
        id,
        name,
        ascii_name,
        country_code,
        country,
        region,
        latitude,
        longitude,
        time_zone,
        population,
    ] = fields.as_slice()
    else {
        return Err(format!(
            "expected 10 tab-separated fields, found {}",
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
    let valid_id = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_id {
        return Err(format!("bad id '{id}'"));
    }
    Ok(City {
        id: (*id).to_owned(),
        name: (*name).to_owned(),
        ascii_name: (*ascii_name).to_owned(),
        country_code: (*country_code).to_owned(),
        country: (*country).to_owned(),
        region: (*region).to_owned(),
        latitude,
        longitude,
        time_zone,
        population,
        normals: Normals::from_latitude(latitude),
        search_key: fold(ascii_name),
    })
}

/// Lowercase ASCII, accents dropped (`Zürich` → `zurich`), so a query matches however it
/// is typed.
fn fold(text: &str) -> String {
    deunicode::deunicode(text).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_is_valid_and_has_thousands_of_cities() {
        let catalog = Catalog::parse(&embedded_tsv()).expect("valid catalog");
        assert!(catalog.len() >= 4000, "only {} cities", catalog.len());
        let paris = catalog.get("paris-fr").expect("Paris");
        assert_eq!(paris.time_zone, chrono_tz::Europe::Paris);
        assert_eq!(paris.region, "Ile-de-France");
        let sao_paulo = catalog.get("sao-paulo-br").expect("São Paulo");
        assert_eq!(
            (sao_paulo.name.as_str(), sao_paulo.ascii_name.as_str()),
            ("São Paulo", "Sao Paulo")
        );
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
        assert_eq!(names("ZÜRI"), ["Zürich"]);
        assert_eq!(names("zuri"), ["Zürich"]);
        assert_eq!(names("sao")[0], "São Paulo");
        assert_eq!(names("São P")[0], "São Paulo");
        // Whole-name prefixes first (by population), then a later word ("New York City").
        assert_eq!(names("new")[0], "New York City");
        assert!(names("york").contains(&"New York City".to_owned()));
        assert_eq!(names("sh")[0], "Shanghai");
        assert!(names("xyzzy").is_empty());
        assert_eq!(catalog.search("", 7).len(), 7);
        assert_eq!(catalog.search("", 7)[0].name, "Shanghai");
        // Bounded, and ranked by population within a group.
        let springfields = catalog.search("springfield", 3);
        assert!(springfields.len() <= 3);
        assert!(
            springfields
                .windows(2)
                .all(|w| w[0].population >= w[1].population)
        );
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let error = Catalog::parse("# header\nx-xx\tX\tX\tXX\tX\t\t1\t2\tNowhere/City\t3\n")
            .expect_err("bad time zone");
        assert_eq!(error, "line 2: unknown time zone 'Nowhere/City'");
    }
}
