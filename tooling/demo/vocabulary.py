"""Reference vocabulary for the demo data generator.

Everything here is invented or generic. The lists are small on purpose: they
make realistic *kinds* of mess (nicknames, spellings, formats), while the
generator's counters keep people, phones and emails unique.
"""

from __future__ import annotations

import csv
from pathlib import Path

# ---------------------------------------------------------------- people ----

# canonical first name -> nicknames that real CRMs hold instead
NICKNAMES: dict[str, list[str]] = {
    "Robert": ["Bob", "Rob", "Bobby"],
    "William": ["Bill", "Will", "Billy"],
    "Elizabeth": ["Liz", "Beth", "Lizzie"],
    "Katherine": ["Kate", "Katie", "Kathy"],
    "Michael": ["Mike", "Mick"],
    "James": ["Jim", "Jimmy"],
    "Jennifer": ["Jen", "Jenny"],
    "Richard": ["Rick", "Dick", "Rich"],
    "Margaret": ["Maggie", "Peggy", "Meg"],
    "Thomas": ["Tom", "Tommy"],
    "Christopher": ["Chris"],
    "Patricia": ["Pat", "Trish"],
    "Anthony": ["Tony"],
    "Alexander": ["Alex", "Sasha"],
    "Daniel": ["Dan", "Danny"],
    "Joseph": ["Joe", "Joey"],
    "Jonathan": ["Jon"],
    "Samantha": ["Sam"],
    "Rebecca": ["Becky"],
    "Nicholas": ["Nick"],
    "Matthew": ["Matt"],
    "Steven": ["Steve"],
    "Susan": ["Sue", "Suzy"],
    "Deborah": ["Deb", "Debbie"],
    "Andrew": ["Andy", "Drew"],
    "Benjamin": ["Ben"],
    "Victoria": ["Vicky", "Tori"],
    "Johannes": ["Hans"],
    "Wolfgang": ["Wolf"],
    "Alexandra": ["Alex", "Sandra"],
}

FIRST_NAMES: dict[str, list[str]] = {
    "anglo": [
        "Robert", "William", "Elizabeth", "Katherine", "Michael", "James",
        "Jennifer", "Richard", "Margaret", "Thomas", "Christopher", "Patricia",
        "Anthony", "Alexander", "Daniel", "Joseph", "Jonathan", "Samantha",
        "Rebecca", "Nicholas", "Matthew", "Steven", "Susan", "Deborah",
        "Andrew", "Benjamin", "Victoria", "Emily", "Olivia", "Grace", "Laura",
        "Rachel", "Hannah", "Megan", "Lucy", "Chloe", "Ryan", "Kevin", "Brian",
        "Mary", "Linda", "Sarah", "Karen", "Nancy", "Lisa", "Sandra", "Ashley",
        "Mark", "Paul", "George", "Edward", "Henry", "Zoë", "Siobhán", "Seán",
    ],
    "german": [
        "Johannes", "Wolfgang", "Alexandra", "Jürgen", "Günter", "Stefan",
        "Andreas", "Sabine", "Petra", "Ursula", "Katrin", "Jörg", "Uwe",
        "Monika", "Heike", "Björn", "Lena", "Lukas", "Felix", "Anja", "Dirk",
    ],
    "french": [
        "François", "Hélène", "Amélie", "Jérôme", "Benoît", "Céline", "Émile",
        "Loïc", "Maëlle", "Noémie", "Thérèse", "Pierre", "Camille", "Julien",
        "Léa", "Mathieu", "Sébastien", "Aurélie", "Anne-Sophie", "Jean-Luc",
    ],
    "dutch": [
        "Jan", "Pieter", "Sanne", "Femke", "Joost", "Maarten", "Eline",
        "Ruud", "Anouk", "Bram", "Wouter", "Lotte", "Sven", "Marijke",
    ],
    "indian": [
        "Priya", "Rahul", "Anjali", "Vikram", "Sanjay", "Deepa", "Arjun",
        "Kavya", "Rohan", "Sneha", "Amit", "Pooja", "Nikhil", "Lakshmi",
        "Aditya", "Meera", "Suresh", "Divya",
    ],
}

LAST_NAMES: dict[str, list[str]] = {
    "anglo": [
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis",
        "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson",
        "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker",
        "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams",
        "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
        "McDonald", "MacLeod", "O'Brien", "O'Connor", "D'Angelo",
        "Smith-Jones", "Hughes-Wilson", "Fitzgerald", "McKenzie", "Ó Súilleabháin",
    ],
    "german": [
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer",
        "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer",
        "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Braun", "Zimmermann",
        "von Weizsäcker", "von der Leyen",
    ],
    "french": [
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
        "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel",
        "Garcia", "de la Fontaine", "Le Gall", "Béranger", "Lemaître",
    ],
    "dutch": [
        "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker",
        "Janssen", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
        "van der Meer", "van der Linden", "Bos", "Vos", "Peters",
    ],
    "indian": [
        "Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair",
        "Mehta", "Joshi", "Rao", "Desai", "Chatterjee", "Banerjee", "Kapoor",
        "Malhotra", "Menon", "Pillai",
    ],
}

SALUTATIONS = ["Mr.", "Ms.", "Mrs.", "Dr.", "Mr", "Ms", "Prof."]
NAME_SUFFIXES = ["Jr.", "Sr.", "III", "PhD", "MBA"]

FREE_MAIL_DOMAINS = [
    "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com",
    "icloud.com", "gmx.de", "web.de", "orange.fr", "free.fr", "yahoo.co.in",
    "rediffmail.com", "btinternet.com", "bigpond.com", "ziggo.nl",
]

# ------------------------------------------------------------- countries ----

# how CRMs spell each country; the first entry is the canonical English name
COUNTRY_SPELLINGS: dict[str, list[str]] = {
    "US": ["United States", "USA", "U.S.A.", "US", "United States of America",
           "usa", "U.S.", "America"],
    "CA": ["Canada", "CA", "CAN", "canada"],
    "GB": ["United Kingdom", "UK", "U.K.", "Great Britain", "England", "GB",
           "united kingdom"],
    "DE": ["Germany", "Deutschland", "DE", "GER", "germany", "Federal Republic of Germany"],
    "FR": ["France", "FR", "FRA", "france", "République française"],
    "NL": ["Netherlands", "The Netherlands", "Holland", "Nederland", "NL",
           "netherlands"],
    "AU": ["Australia", "AU", "AUS", "australia"],
    "IN": ["India", "IN", "IND", "Bharat", "india"],
}

COUNTRY_WEIGHTS: dict[str, float] = {
    "US": 0.38, "GB": 0.13, "DE": 0.10, "IN": 0.09, "FR": 0.08,
    "CA": 0.08, "AU": 0.07, "NL": 0.07,
}

COUNTRY_CULTURE: dict[str, list[str]] = {
    "US": ["anglo"] * 8 + ["indian", "german"],
    "CA": ["anglo"] * 6 + ["french"] * 3 + ["indian"],
    "GB": ["anglo"] * 8 + ["indian"] * 2,
    "DE": ["german"] * 9 + ["anglo"],
    "FR": ["french"] * 9 + ["anglo"],
    "NL": ["dutch"] * 9 + ["anglo"],
    "AU": ["anglo"] * 9 + ["indian"],
    "IN": ["indian"],
}

# (city, state code, state spellings, phone area, postal prefix)
# state spellings: first = canonical name, then common variants; empty where
# the country's addresses carry no state.
CITIES: dict[str, list[tuple[str, str, list[str], str, str]]] = {
    "US": [
        ("New York", "NY", ["New York", "NY", "N.Y.", "new york"], "212", "100"),
        ("San Francisco", "CA", ["California", "CA", "Calif.", "Cal"], "415", "941"),
        ("Chicago", "IL", ["Illinois", "IL", "Ill.", "illinois"], "312", "606"),
        ("Boston", "MA", ["Massachusetts", "MA", "Mass.", "Mass"], "617", "021"),
        ("Seattle", "WA", ["Washington", "WA", "Wash."], "206", "981"),
        ("Austin", "TX", ["Texas", "TX", "Tex.", "texas"], "512", "787"),
        ("Denver", "CO", ["Colorado", "CO", "Colo."], "303", "802"),
        ("Atlanta", "GA", ["Georgia", "GA", "Ga."], "404", "303"),
        ("Los Angeles", "CA", ["California", "CA", "Calif."], "213", "900"),
        ("Miami", "FL", ["Florida", "FL", "Fla."], "305", "331"),
    ],
    "CA": [
        ("Toronto", "ON", ["Ontario", "ON", "Ont."], "416", "M5V"),
        ("Vancouver", "BC", ["British Columbia", "BC", "B.C."], "604", "V6B"),
        ("Montréal", "QC", ["Quebec", "QC", "Québec", "Que."], "514", "H2Y"),
        ("Calgary", "AB", ["Alberta", "AB", "Alta."], "403", "T2P"),
        ("Ottawa", "ON", ["Ontario", "ON", "Ont."], "613", "K1P"),
    ],
    "GB": [
        ("London", "", [], "20", "EC1A"),
        ("London", "", [], "20", "SW1A"),
        ("London", "", [], "20", "W1D"),
    ],
    "DE": [
        ("Berlin", "BE", ["Berlin"], "30", "10"),
        ("München", "BY", ["Bayern", "Bavaria"], "89", "80"),
    ],
    "FR": [
        ("Paris", "", [], "1", "75"),
    ],
    "NL": [
        ("Amsterdam", "NH", ["Noord-Holland", "North Holland"], "20", "10"),
    ],
    "AU": [
        ("Sydney", "NSW", ["New South Wales", "NSW", "N.S.W."], "2", "2000"),
        ("Melbourne", "VIC", ["Victoria", "VIC", "Vic."], "3", "3000"),
    ],
    "IN": [
        ("New Delhi", "DL", ["Delhi", "DL", "NCT of Delhi"], "11", "110"),
        ("Mumbai", "MH", ["Maharashtra", "MH", "Maha."], "22", "400"),
        ("Bengaluru", "KA", ["Karnataka", "KA", "Kar."], "80", "560"),
    ],
}

CITY_SPELLINGS: dict[str, list[str]] = {
    "München": ["München", "Munich", "Muenchen"],
    "Montréal": ["Montréal", "Montreal"],
    "Bengaluru": ["Bengaluru", "Bangalore"],
    "New York": ["New York", "New York City", "NYC"],
}

STREET_NAMES: dict[str, list[str]] = {
    "US": ["Main", "Oak", "Maple", "Market", "Mission", "Park", "Washington",
           "Lake", "Hill", "Pine", "Cedar", "Elm", "Broadway", "Madison",
           "Franklin", "Sunset", "Highland", "Union", "Lincoln", "Jefferson"],
    "CA": ["King", "Queen", "Bay", "Yonge", "Granville", "Robson", "Bank",
           "Elgin", "Sherbrooke", "Stephen"],
    "GB": ["High", "Station", "Church", "Victoria", "Mill", "Oxford",
           "Regent", "Baker", "Fleet", "Bishopsgate", "Kingsway"],
    "AU": ["George", "Pitt", "Collins", "Bourke", "Elizabeth", "Swanston",
           "Kent", "Clarence"],
    "IN": ["MG", "Brigade", "Linking", "Nehru", "Gandhi", "Residency",
           "Church", "Park"],
}

# USPS Publication 28 suffixes: canonical abbreviation -> spellings seen in CRMs
US_STREET_SUFFIXES: dict[str, list[str]] = {
    "ST": ["Street", "St", "St.", "ST", "Str", "street"],
    "AVE": ["Avenue", "Ave", "Ave.", "AVE", "Av", "avenue"],
    "BLVD": ["Boulevard", "Blvd", "Blvd.", "BLVD", "Boul"],
    "RD": ["Road", "Rd", "Rd.", "RD", "road"],
    "DR": ["Drive", "Dr", "Dr.", "DR"],
    "LN": ["Lane", "Ln", "Ln.", "LN"],
    "CT": ["Court", "Ct", "Ct.", "CT"],
    "PL": ["Place", "Pl", "Pl.", "PL"],
    "PKWY": ["Parkway", "Pkwy", "Pkwy.", "PKWY", "Pky"],
    "HWY": ["Highway", "Hwy", "Hwy.", "HWY"],
    "SQ": ["Square", "Sq", "Sq.", "SQ"],
    "TER": ["Terrace", "Ter", "Terr", "TER"],
}
OTHER_STREET_SUFFIXES = ["Street", "Road", "Avenue", "Lane", "Drive"]

# Publication 28 Appendix C1 in full, from the seed (its current-edition rows): standard
# abbreviation -> every spelling the table lists, so the demo holds each of them
def _c1_spellings() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    seed = Path(__file__).resolve().parents[2] / "seeds" / "usps_street_suffixes.csv"
    with seed.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["source"] == "C1":
                table.setdefault(row["suffix_code"], []).append(row["suffix_key"])
    return table


C1_SUFFIX_SPELLINGS = _c1_spellings()

# Appendix C2's secondary unit designators, with spellings exports use beside the standard's
C2_UNIT_SPELLINGS: dict[str, list[str]] = {
    "APT": ["Apartment", "Apt", "APT", "Ap", "Aprt", "Aptmnt"], "BLDG": ["Building", "Bldg", "BLDG"],
    "DEPT": ["Department", "Dept"], "UNIT": ["Unit", "UNIT", "U"], "LOT": ["Lot"], "SPC": ["Space", "Spc"],
    "HNGR": ["Hangar", "Hngr"], "PIER": ["Pier"], "SLIP": ["Slip"], "STOP": ["Stop"], "TRLR": ["Trailer", "Trlr"],
    "KEY": ["Key"], "BSMT": ["Basement", "Bsmt", "bsmt"], "FRNT": ["Front", "Frnt"], "LBBY": ["Lobby", "Lbby"],
    "LOWR": ["Lower", "Lowr"], "OFC": ["Office", "Ofc"], "PH": ["Penthouse", "PH"], "REAR": ["Rear"],
    "SIDE": ["Side"], "UPPR": ["Upper", "Uppr"],
}
C2_WITHOUT_NUMBER = {"BSMT", "FRNT", "LBBY", "LOWR", "OFC", "PH", "REAR", "SIDE", "UPPR"}

US_POST_DIRECTIONALS: dict[str, list[str]] = {
    "N": ["North", "N"], "S": ["South", "S", "S."], "E": ["East", "E"], "W": ["West", "W"],
    "NE": ["Northeast", "NE"], "NW": ["Northwest", "NW", "N.W."], "SE": ["Southeast", "SE"],
    "SW": ["Southwest", "SW", "S.W."],
}

US_DIRECTIONALS: dict[str, list[str]] = {
    "N": ["North", "N", "N."], "S": ["South", "S", "S."],
    "E": ["East", "E", "E."], "W": ["West", "W", "W."],
    "NE": ["Northeast", "NE", "N.E."], "NW": ["Northwest", "NW", "N.W."],
}

US_UNIT_DESIGNATORS: dict[str, list[str]] = {
    "STE": ["Suite", "Ste", "Ste.", "STE", "Suite #"],
    "FL": ["Floor", "Fl", "Fl.", "FL"],
    "RM": ["Room", "Rm", "Rm."],
    "#": ["#", "No.", "Unit"],
}

GERMAN_STREETS = ["Hauptstraße", "Bahnhofstraße", "Friedrichstraße",
                  "Leopoldstraße", "Kaiserallee", "Schillerweg", "Goethestraße"]
GERMAN_STREET_VARIANTS = {"straße": ["straße", "str.", "strasse", "Str."]}
FRENCH_STREETS = ["rue de Rivoli", "avenue des Champs-Élysées", "boulevard Haussmann",
                  "rue du Faubourg Saint-Honoré", "rue de la Paix", "avenue de l'Opéra"]
FRENCH_STREET_VARIANTS = {"rue": ["rue", "r."], "avenue": ["avenue", "av.", "ave"],
                          "boulevard": ["boulevard", "bd", "boul."]}
DUTCH_STREETS = ["Keizersgracht", "Herengracht", "Prinsengracht", "Damrak",
                 "Kalverstraat", "Stadhouderskade"]

# ------------------------------------------------------------- companies ----

COMPANY_WORDS_A = [
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Vandelay",
    "Hooli", "Soylent", "Cyberdyne", "Tyrell", "Wonka", "Gringotts",
    "Oscorp", "Nakatomi", "Massive", "Pied Piper", "Aperture", "Black Mesa",
    "Blue Sun", "Monarch", "Sterling", "Dunder", "Prestige", "Virtucon",
    "Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adventure",
    "Proseware", "Lucerne", "Woodgrove", "Fourth Coffee", "Alpine", "Margie",
    "Bellows", "Cobalt", "Granite", "Harbor", "Ironclad", "Juniper", "Kestrel",
    "Lumen", "Meridian", "Nimbus", "Orion", "Pinnacle", "Quantum", "Redwood",
    "Summit", "Titan", "Vertex", "Willow", "Zenith", "Evergreen", "Falcon",
]
COMPANY_WORDS_B = [
    "Systems", "Industries", "Labs", "Analytics", "Solutions", "Dynamics",
    "Networks", "Holdings", "Logistics", "Health", "Capital", "Foods",
    "Energy", "Software", "Partners", "Media", "Robotics", "Pharma",
    "Motors", "Consulting", "Retail", "Bank", "Insurance", "Telecom",
]

# canonical legal form -> spellings seen in CRMs
LEGAL_SUFFIXES: dict[str, dict[str, list[str]]] = {
    "US": {"Inc": ["Inc.", "Inc", "INC", ", Inc.", "Incorporated"],
           "LLC": ["LLC", "L.L.C.", ", LLC", "llc"],
           "Corp": ["Corp.", "Corporation", "Corp", "CORP"],
           "Co": ["Co.", "Company", "& Co."]},
    "CA": {"Inc": ["Inc.", "Inc", "Incorporated"], "Ltd": ["Ltd.", "Limited"]},
    "GB": {"Ltd": ["Ltd", "Ltd.", "Limited", "LTD"], "PLC": ["plc", "PLC", "P.L.C."]},
    "DE": {"GmbH": ["GmbH", "Gmbh", "G.m.b.H.", "GMBH"], "AG": ["AG", "A.G."]},
    "FR": {"SA": ["S.A.", "SA", "S.A"], "SAS": ["SAS", "S.A.S."], "SARL": ["SARL", "S.A.R.L."]},
    "NL": {"BV": ["B.V.", "BV", "bv"], "NV": ["N.V.", "NV"]},
    "AU": {"Pty Ltd": ["Pty Ltd", "Pty. Ltd.", "PTY LTD", "Proprietary Limited"]},
    "IN": {"Pvt Ltd": ["Pvt. Ltd.", "Pvt Ltd", "Private Limited", "PVT LTD"],
           "Ltd": ["Ltd.", "Limited"]},
}

COUNTRY_TLD: dict[str, str] = {
    "US": "com", "CA": "ca", "GB": "co.uk", "DE": "de", "FR": "fr",
    "NL": "nl", "AU": "com.au", "IN": "in",
}

INDUSTRIES = [
    "software", "financial_services", "healthcare", "manufacturing", "retail",
    "telecommunications", "media", "education", "logistics", "energy",
    "professional_services", "pharmaceuticals", "insurance", "hospitality",
]

# size band -> (min employees, max employees, share of companies)
SIZE_BANDS: list[tuple[str, int, int, float]] = [
    ("1-10", 1, 10, 0.20),
    ("11-50", 11, 50, 0.25),
    ("51-200", 51, 200, 0.22),
    ("201-500", 201, 500, 0.13),
    ("501-1000", 501, 1000, 0.08),
    ("1001-5000", 1001, 5000, 0.07),
    ("5001-10000", 5001, 10000, 0.03),
    ("10001+", 10001, 250000, 0.02),
]

REVENUE_RANGES = ["<1M", "1M-10M", "10M-50M", "50M-100M", "100M-500M",
                  "500M-1B", "1B-10B", "10B+"]

# --------------------------------------------------------------- titles ----

DEPARTMENTS: dict[str, dict[str, str]] = {
    # department -> {function word, C-level title, C-level acronym}
    "marketing": {"fn": "Marketing", "chief": "Chief Marketing Officer", "acr": "CMO"},
    "sales": {"fn": "Sales", "chief": "Chief Revenue Officer", "acr": "CRO"},
    "engineering": {"fn": "Engineering", "chief": "Chief Technology Officer", "acr": "CTO"},
    "it": {"fn": "IT", "chief": "Chief Information Officer", "acr": "CIO"},
    "finance": {"fn": "Finance", "chief": "Chief Financial Officer", "acr": "CFO"},
    "hr": {"fn": "Human Resources", "chief": "Chief People Officer", "acr": "CPO"},
    "operations": {"fn": "Operations", "chief": "Chief Operating Officer", "acr": "COO"},
}
DEPARTMENT_WEIGHTS = {"marketing": 0.22, "sales": 0.22, "engineering": 0.18,
                      "it": 0.10, "finance": 0.10, "hr": 0.08, "operations": 0.10}

# seniority -> share of people
SENIORITY_WEIGHTS = {"c_level": 0.03, "vp": 0.06, "director": 0.12,
                     "manager": 0.22, "senior": 0.22, "entry": 0.35}

# individual-contributor role nouns per department
ROLE_NOUNS: dict[str, list[str]] = {
    "marketing": ["Marketing Specialist", "Content Marketer", "Marketing Analyst",
                  "Brand Strategist", "Growth Marketer"],
    "sales": ["Account Executive", "Sales Representative",
              "Business Development Representative", "Sales Development Representative"],
    "engineering": ["Software Engineer", "Data Engineer", "DevOps Engineer",
                    "Backend Developer", "QA Engineer"],
    "it": ["Systems Administrator", "IT Support Specialist", "Network Engineer",
           "Help Desk Analyst"],
    "finance": ["Accountant", "Financial Analyst", "Bookkeeper", "Auditor"],
    "hr": ["Recruiter", "HR Generalist", "Talent Acquisition Specialist",
           "HR Business Partner"],
    "operations": ["Operations Analyst", "Project Coordinator", "Supply Chain Analyst",
                   "Operations Specialist"],
}
