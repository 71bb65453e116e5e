//! Embedded word lists for realistic, deterministic test data: common Nordic, European and
//! English first and last names, cities with their countries, and company-name words.
//! Kept as whitespace-separated text so the lists stay easy to read and extend.

pub const FIRST_NAMES: &str = "
Anna Maria Emma Ida Sara Julia Hanna Elin Ingrid Kari Nora Sofie Thea Emilie Ella Maja Alma
Astrid Sigrid Liv Solveig Ragnhild Åse Marit Randi Gunn Berit Tone Hilde Linn Silje Camilla
Karoline Mathilde Frida Tuva Vilde Ylva Saga Ebba Wilma Elsa Alice Agnes Selma Stina Märta
Freja Signe Karen Mette Lone Pernille Dorthe Birgitte Lærke Aino Helmi Aada Eveliina Katja
Liisa Sanna Johanna Laura Lena Katharina Sabine Petra Claudia Anja Monika Ursula Greta Lotte
Sophie Charlotte Olivia Amelia Isla Emily Grace Lucy Chloe Ruby Jessica Hannah Rebecca Sarah
Elizabeth Victoria Catherine Margaret Helen Claire Fiona Marie Camille Léa Manon Chloé Inès
Lucía Carmen Elena Isabel Paula Giulia Francesca Chiara Martina Eva Lisa Nina Marta Zofia Agata
Ole Lars Per Jan Hans Knut Nils Erik Arne Bjørn Svein Geir Terje Rune Trond Morten Stian
Anders Magnus Henrik Jonas Martin Sindre Eirik Håkon Sigurd Olav Gunnar Tor Kjell Leif Odd
Johan Karl Gustav Oskar Axel Filip Viktor Emil Hugo Elias Isak Lukas William Oliver Noah
Mikkel Rasmus Søren Jens Niels Frederik Mads Christian Kasper Jesper Mikko Juha Timo Jukka
Pekka Antti Matti Ville Heikki Lauri Jussi Thomas Michael Andreas Stefan Markus Tobias Florian
Sebastian Maximilian Jürgen Klaus Wolfgang Dieter Uwe Ralf Jörg James John Robert David
Richard Joseph Charles George Edward Harry Jack Thomas Daniel Matthew Samuel Benjamin Alexander
Patrick Sean Liam Connor Pierre Jean Louis Antoine Nicolas Julien Mathieu Pablo Javier Carlos
Diego Marco Luca Matteo Giovanni Alessandro Pieter Jeroen Bram Daan Piotr Tomasz Krzysztof
";

pub const LAST_NAMES: &str = "
Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Kristiansen Jensen Karlsen Johnsen
Pettersen Eriksen Berg Haugen Hagen Johannessen Andreassen Jacobsen Dahl Jørgensen Halvorsen
Henriksen Lund Sørensen Jakobsen Moen Gundersen Iversen Strand Solberg Svendsen Eide Knutsen
Martinsen Paulsen Bakken Kristoffersen Mathisen Lie Amundsen Nguyen Rasmussen Ali Lunde Solheim
Berge Moe Nygård Bakke Kristensen Fredriksen Holm Lien Hauge Christensen Andresen Nielsen
Knudsen Evensen Sæther Aas Myhre Hanssen Ahmed Haugland Thomassen Sivertsen Simonsen Danielsen
Berntsen Sandvik Rønning Arnesen Antonsen Næss Vik Haug Ellingsen Thorsen Edvardsen Birkeland
Isaksen Gulbrandsen Ruud Aasen Strøm Myklebust Tangen Ødegård Eliassen Helland Bøe Jenssen
Aune Mikkelsen Tveit Brekke Abrahamsen Madsen Andersson Johansson Karlsson Nilsson Eriksson
Larsson Olsson Persson Svensson Gustafsson Pettersson Jonsson Jansson Hansson Bengtsson
Jönsson Lindberg Jakobsson Magnusson Lindström Olofsson Lindqvist Lindgren Berglund Axelsson
Fredriksson Sandberg Henriksson Forsberg Sjöberg Wallin Engström Eklund Danielsson Lundin
Håkansson Björk Bergström Fransson Lundgren Nyström Holmberg Arvidsson Isaksson Söderberg
Møller Poulsen Thomsen Kjær Clausen Laursen Bach Mortensen Schmidt Østergaard Frandsen
Korhonen Virtanen Mäkinen Nieminen Mäkelä Hämäläinen Laine Heikkinen Koskinen Järvinen
Lehtonen Lehtinen Saarinen Salminen Heinonen Niemi Heikkilä Kinnunen Salonen Turunen
Müller Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter
Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Werner
Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Roberts Johnson Lewis Walker
Robinson Wood Thompson White Watson Jackson Wright Green Harris Cooper King Lee Martin Clarke
James Morgan Hughes Edwards Hill Moore Clark Harrison Scott Young Morris Hall Ward Turner
Carter Phillips Mitchell Patel Adams Campbell Anderson Allen Cook Bailey Parker Miller Davis
Murphy Kelly Byrne Walsh Ryan Brennan Dubois Durand Lefebvre Moreau Laurent Simon Michel
Garcia Rodriguez Fernandez Lopez Martinez Sanchez Perez Gonzalez Rossi Russo Ferrari Esposito
Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti Jong Vries Bakker Visser Smit
Meijer Mulder Bos Vos Peters Hendriks Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński
";

/// `city|postal code prefix|country|phone country code|currency`
pub const CITIES: &str = "
Oslo|0|Norway|47|NOK
Bergen|5|Norway|47|NOK
Trondheim|7|Norway|47|NOK
Stavanger|4|Norway|47|NOK
Tromsø|9|Norway|47|NOK
Drammen|3|Norway|47|NOK
Kristiansand|46|Norway|47|NOK
Ålesund|60|Norway|47|NOK
Bodø|80|Norway|47|NOK
Fredrikstad|16|Norway|47|NOK
Stockholm|1|Sweden|46|SEK
Göteborg|4|Sweden|46|SEK
Malmö|2|Sweden|46|SEK
Uppsala|75|Sweden|46|SEK
Västerås|72|Sweden|46|SEK
Örebro|70|Sweden|46|SEK
Linköping|58|Sweden|46|SEK
Umeå|90|Sweden|46|SEK
København|1|Denmark|45|DKK
Aarhus|8|Denmark|45|DKK
Odense|5|Denmark|45|DKK
Aalborg|9|Denmark|45|DKK
Esbjerg|67|Denmark|45|DKK
Helsinki|00|Finland|358|EUR
Espoo|02|Finland|358|EUR
Tampere|33|Finland|358|EUR
Turku|20|Finland|358|EUR
Oulu|90|Finland|358|EUR
Reykjavík|10|Iceland|354|ISK
Berlin|1|Germany|49|EUR
Hamburg|2|Germany|49|EUR
München|8|Germany|49|EUR
Köln|5|Germany|49|EUR
Frankfurt|6|Germany|49|EUR
Stuttgart|7|Germany|49|EUR
Düsseldorf|4|Germany|49|EUR
Leipzig|04|Germany|49|EUR
Wien|1|Austria|43|EUR
Zürich|8|Switzerland|41|CHF
Amsterdam|10|Netherlands|31|EUR
Rotterdam|30|Netherlands|31|EUR
Utrecht|35|Netherlands|31|EUR
Brussel|10|Belgium|32|EUR
Antwerpen|20|Belgium|32|EUR
London|E|United Kingdom|44|GBP
Manchester|M|United Kingdom|44|GBP
Birmingham|B|United Kingdom|44|GBP
Leeds|LS|United Kingdom|44|GBP
Glasgow|G|United Kingdom|44|GBP
Edinburgh|EH|United Kingdom|44|GBP
Bristol|BS|United Kingdom|44|GBP
Dublin|D|Ireland|353|EUR
Cork|T|Ireland|353|EUR
Paris|75|France|33|EUR
Lyon|69|France|33|EUR
Marseille|13|France|33|EUR
Madrid|28|Spain|34|EUR
Barcelona|08|Spain|34|EUR
Milano|20|Italy|39|EUR
Roma|00|Italy|39|EUR
Warszawa|00|Poland|48|PLN
Kraków|30|Poland|48|PLN
Tallinn|10|Estonia|372|EUR
Riga|10|Latvia|371|EUR
Vilnius|01|Lithuania|370|EUR
Praha|11|Czechia|420|CZK
";

/// The legal-form suffix companies take in each country.
pub fn company_suffixes(country: &str) -> &'static [&'static str] {
    match country {
        "Norway" => &["AS", "AS", "AS", "ASA", "ANS", "DA"],
        "Sweden" => &["AB", "AB", "AB", "HB", "KB"],
        "Denmark" => &["A/S", "ApS", "ApS", "I/S"],
        "Finland" => &["Oy", "Oy", "Oyj", "Ky"],
        "Iceland" => &["ehf.", "hf."],
        "Germany" | "Austria" => &["GmbH", "GmbH", "AG", "KG", "GmbH & Co. KG"],
        "Switzerland" => &["AG", "GmbH", "SA"],
        "Netherlands" | "Belgium" => &["B.V.", "B.V.", "N.V."],
        "United Kingdom" | "Ireland" => &["Ltd", "Ltd", "Limited", "PLC", "LLP"],
        "France" => &["SAS", "SARL", "SA"],
        "Spain" => &["S.L.", "S.A."],
        "Italy" => &["S.r.l.", "S.p.A."],
        "Poland" => &["sp. z o.o.", "S.A."],
        "Czechia" => &["s.r.o.", "a.s."],
        "Estonia" | "Latvia" | "Lithuania" => &["OÜ", "AS", "SIA", "UAB"],
        _ => &["Ltd"],
    }
}

pub const COMPANY_WORDS: &str = "
Nord Syd Vest Øst Fjord Fjell Havn Skog Stein Bølge Lys Kyst Vik Elv Berg Dal Bro Tind Nordic
Arctic Polar Baltic Viking Norse Aurora Boreal Scandic Atlantic Alpine Euro Global Inter Trans
Nova Vita Terra Aqua Solar Helio Astra Stella Vega Orion Atlas Delta Omega Sigma Alfa Beta
Blue Green Red Silver Golden Iron Copper Crystal Granite Oak Birch Pine Spruce Willow Maple
North South West East Coast Harbour Bridge River Stone Wave Light Peak Valley Forest Field
Rapid Smart Bright Clear Prime Core Peak Apex Summit Pioneer Frontier Horizon Vertex Zenith
Berg Hansen Olsen Lund Dahl Holm Strand Moen Solberg Eide Lindberg Wallin Nielsen Schmidt Weber
";

pub const COMPANY_TRADES: &str = "
Consulting Engineering Logistics Shipping Seafood Energy Solutions Systems Software Data
Analytics Media Design Architecture Construction Bygg Elektro Rør Transport Marine Offshore
Medical Pharma Foods Trading Handel Invest Capital Finans Eiendom Property Holding Partners
Group Industrier Industries Technology Tech Networks Security Robotics Automation Textiles
Furniture Interiør Møbler Retail Travel Reiser Hotels Catering Bakeri Brewing Bryggeri
Agro Fisk Laks Timber Paper Print Packaging Plastics Metals Steel Tools Machines Motors
";

pub const TITLES: &str = "
CEO|CFO|CTO|COO|Sales Manager|Key Account Manager|Account Executive|Head of Purchasing|
Purchasing Manager|Procurement Officer|Project Manager|Product Manager|Marketing Manager|
Office Manager|HR Manager|IT Manager|Head of IT|Developer|Senior Engineer|Engineer|Consultant|
Senior Consultant|Controller|Accountant|Financial Controller|Operations Manager|Logistics Manager|
Managing Director|Daglig leder|Salgssjef|Innkjøpssjef|Prosjektleder|Økonomisjef|Verkställande direktör|
Inköpschef|Geschäftsführer|Einkaufsleiter|Vertriebsleiter|Assistant|Receptionist|Partner|Owner|
Board Member|Chairman|Support Manager|Customer Success Manager|Buyer|Analyst|Architect
";

pub const STREETS: &str = "
Storgata Kirkegata Kongens gate Dronningens gate Parkveien Skolegata Industriveien Havnegata
Strandveien Bjørkeveien Sjøgata Torggata Drottninggatan Kungsgatan Storgatan Vasagatan
Hovedgaden Vestergade Østergade Nørregade Mannerheimintie Hämeenkatu Hauptstraße Bahnhofstraße
Gartenstraße Schulstraße Lindenstraße High Street Station Road Church Street Park Road Mill Lane
Victoria Road Kerkstraat Dorpsstraat Rue de la Paix Calle Mayor Via Roma Ulica Długa
";

pub const PRODUCTS: &str = "
licences|support agreement|maintenance|pilot|framework agreement|rollout|upgrade|training|
consulting hours|hardware|renewal|subscription|integration|migration|audit|service contract|
spare parts|fleet|installation|extension
";

pub const SUBJECTS: &str = "
Follow up on offer|Call about renewal|Send contract|Quarterly review|Demo of new version|
Discuss pricing|Kick-off meeting|Site visit|Check delivery|Answer support question|
Prepare proposal|Lunch meeting|Invite to webinar|Update contact details|Collect feedback|
Negotiate terms|Reference call|Sign agreement|Budget planning|Introduce new contact
";

/// Splits a list on whitespace (single-word entries).
pub fn words(list: &'static str) -> Vec<&'static str> {
    list.split_whitespace().collect()
}

/// Splits a list on `|` (entries with spaces).
pub fn entries(list: &'static str) -> Vec<&'static str> {
    list.split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The street names: each line of [`STREETS`] holds several; streets are the runs between
/// the capitalised words that start a name, so we keep multi-word names by splitting on
/// known single-word boundaries instead: every entry here is one or two words.
pub fn streets() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in STREETS.split_whitespace() {
        let joins_previous = matches!(
            w,
            "gate" | "Street" | "Road" | "Lane" | "de" | "la" | "Paix" | "Mayor" | "Roma" | "Długa"
        ) || (out.last().is_some_and(|l| {
            l.ends_with(" de") || l.ends_with(" la") || l == "Calle" || l == "Via" || l == "Ulica"
        }));
        match out.last_mut() {
            Some(last) if joins_previous => {
                last.push(' ');
                last.push_str(w);
            }
            _ => out.push(w.to_string()),
        }
    }
    out
}

/// A city with what follows from it.
#[derive(Debug, Clone)]
pub struct City {
    pub name: &'static str,
    pub postal_prefix: &'static str,
    pub country: &'static str,
    pub phone_cc: &'static str,
    pub currency: &'static str,
}

pub fn cities() -> Vec<City> {
    CITIES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let mut p = l.split('|');
            Some(City {
                name: p.next()?,
                postal_prefix: p.next()?,
                country: p.next()?,
                phone_cc: p.next()?,
                currency: p.next()?,
            })
        })
        .collect()
}

/// ASCII form of a name for e-mail addresses and domains: `Åse Sæther` → `aase.saether`.
pub fn ascii_lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'å' => out.push_str("aa"),
            'æ' | 'ä' => out.push_str("ae"),
            'ø' | 'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'é' | 'è' | 'ê' => out.push('e'),
            'á' | 'à' => out.push('a'),
            'í' => out.push('i'),
            'ó' | 'ò' => out.push('o'),
            'ú' => out.push('u'),
            'ñ' | 'ń' => out.push('n'),
            'ś' => out.push('s'),
            'ł' => out.push('l'),
            'ć' => out.push('c'),
            'ż' | 'ź' => out.push('z'),
            'ę' => out.push('e'),
            'ą' => out.push('a'),
            'ð' => out.push('d'),
            'þ' => out.push_str("th"),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_large_enough_and_parse() {
        assert!(
            words(FIRST_NAMES).len() >= 200,
            "{}",
            words(FIRST_NAMES).len()
        );
        assert!(
            words(LAST_NAMES).len() >= 250,
            "{}",
            words(LAST_NAMES).len()
        );
        assert!(cities().len() >= 50);
        assert!(entries(TITLES).len() >= 40);
        let streets = streets();
        assert!(streets.contains(&"Kongens gate".to_string()), "{streets:?}");
        assert!(streets.contains(&"High Street".to_string()), "{streets:?}");
        assert!(
            streets.contains(&"Rue de la Paix".to_string()),
            "{streets:?}"
        );
        for c in cities() {
            assert!(!company_suffixes(c.country).is_empty());
        }
    }

    #[test]
    fn ascii_forms() {
        assert_eq!(ascii_lower("Åse"), "aase");
        assert_eq!(ascii_lower("Sæther-Ødegård"), "saetheroedegaard");
        assert_eq!(ascii_lower("Müller"), "mueller");
    }
}
