"""A street-line corpus built from USPS Publication 28's own tables, apart from the demo.

The tables below are this module's own copy of Publication 28: Appendix C1 (each street
suffix's spellings and its standard abbreviation), C2 (secondary unit designators),
the directionals (233) and the states (Appendix B). The street names, the house-number
forms and the way the lines are written (case, dots, commas, a unit on the line or on a
second one) are a corruption model of their own, not the demo generator's.

Each record carries what Publication 28 makes of it: the delivery line without its unit
(`1656 CONNALLY DR SW`), the unit (`APT 4`, `FL 2`, `BSMT`, `# 7`), the state code, the
ZIP and ZIP+4 extension and whether the code is valid, and the city in its own case.
Conventions where Publication 28 leaves a choice: a type before the name is spelled out
(`COUNTY ROAD 12`, `US HIGHWAY 1`, `AVENUE B`); a unit without a designator takes `#`;
an ordinal floor is its number (`2ND FLOOR` -> `FL 2`).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

# Appendix C1: primary name, the other spellings the table lists > standard abbreviation
C1_TABLE = """
ALLEY ALLEE ALLY ALY > ALY
ANEX ANNEX ANNX ANX > ANX
ARCADE ARC > ARC
AVENUE AV AVE AVEN AVENU AVN AVNUE > AVE
BAYOU BAYOO BYU > BYU
BEACH BCH > BCH
BEND BND > BND
BLUFF BLF BLUF > BLF
BLUFFS BLFS > BLFS
BOTTOM BOT BOTTM BTM > BTM
BOULEVARD BLVD BOUL BOULV > BLVD
BRANCH BR BRNCH > BR
BRIDGE BRDGE BRG > BRG
BROOK BRK > BRK
BROOKS BRKS > BRKS
BURG BG > BG
BURGS BGS > BGS
BYPASS BYP BYPA BYPAS BYPS > BYP
CAMP CMP CP > CP
CANYON CANYN CNYN CYN > CYN
CAPE CPE > CPE
CAUSEWAY CAUSWA CSWY > CSWY
CENTER CEN CENT CENTR CENTRE CNTER CNTR CTR > CTR
CENTERS CTRS > CTRS
CIRCLE CIR CIRC CIRCL CRCL CRCLE > CIR
CIRCLES CIRS > CIRS
CLIFF CLF > CLF
CLIFFS CLFS > CLFS
CLUB CLB > CLB
COMMON CMN > CMN
COMMONS CMNS > CMNS
CORNER COR > COR
CORNERS CORS > CORS
COURSE CRSE > CRSE
COURT CT > CT
COURTS CTS > CTS
COVE CV > CV
COVES CVS > CVS
CREEK CRK > CRK
CRESCENT CRES CRSENT CRSNT > CRES
CREST CRST > CRST
CROSSING CRSSNG XING > XING
CROSSROAD XRD > XRD
CROSSROADS XRDS > XRDS
CURVE CURV > CURV
DALE DL > DL
DAM DM > DM
DIVIDE DIV DV DVD > DV
DRIVE DR DRIV DRV > DR
DRIVES DRS > DRS
ESTATE EST > EST
ESTATES ESTS > ESTS
EXPRESSWAY EXP EXPR EXPRESS EXPW EXPY > EXPY
EXTENSION EXT EXTN EXTNSN > EXT
EXTENSIONS EXTS > EXTS
FALL > FALL
FALLS FLS > FLS
FERRY FRRY FRY > FRY
FIELD FLD > FLD
FIELDS FLDS > FLDS
FLAT FLT > FLT
FLATS FLTS > FLTS
FORD FRD > FRD
FORDS FRDS > FRDS
FOREST FORESTS FRST > FRST
FORGE FORG FRG > FRG
FORGES FRGS > FRGS
FORK FRK > FRK
FORKS FRKS > FRKS
FORT FRT FT > FT
FREEWAY FREEWY FRWAY FRWY FWY > FWY
GARDEN GARDN GDN GRDEN GRDN > GDN
GARDENS GDNS > GDNS
GATEWAY GATEWY GATWAY GTWAY GTWY > GTWY
GLEN GLN > GLN
GLENS GLNS > GLNS
GREEN GRN > GRN
GREENS GRNS > GRNS
GROVE GROV GRV > GRV
GROVES GRVS > GRVS
HARBOR HARB HARBR HBR HRBOR > HBR
HARBORS HBRS > HBRS
HAVEN HVN > HVN
HEIGHTS HT HTS > HTS
HIGHWAY HIGHWY HIWAY HIWY HWAY HWY > HWY
HILL HL > HL
HILLS HLS > HLS
HOLLOW HLLW HOLLOWS HOLW HOLWS > HOLW
INLET INLT > INLT
ISLAND IS ISLND > IS
ISLANDS ISLNDS ISS > ISS
ISLE ISLES > ISLE
JUNCTION JCT JCTION JCTN JUNCTN JUNCTON > JCT
JUNCTIONS JCTNS JCTS > JCTS
KEY KY > KY
KEYS KYS > KYS
KNOLL KNL KNOL > KNL
KNOLLS KNLS > KNLS
LAKE LK > LK
LAKES LKS > LKS
LAND > LAND
LANDING LNDG LNDNG > LNDG
LANE LN > LN
LIGHT LGT > LGT
LIGHTS LGTS > LGTS
LOAF LF > LF
LOCK LCK > LCK
LOCKS LCKS > LCKS
LODGE LDG LDGE LODG > LDG
LOOP LOOPS > LOOP
MALL > MALL
MANOR MNR > MNR
MANORS MNRS > MNRS
MEADOW MDW > MDW
MEADOWS MDWS MEDOWS > MDWS
MEWS > MEWS
MILL ML > ML
MILLS MLS > MLS
MISSION MISSN MSN MSSN > MSN
MOTORWAY MTWY > MTWY
MOUNT MNT MT > MT
MOUNTAIN MNTAIN MNTN MOUNTIN MTIN MTN > MTN
MOUNTAINS MNTNS MTNS > MTNS
NECK NCK > NCK
ORCHARD ORCH ORCHRD > ORCH
OVAL OVL > OVAL
OVERPASS OPAS > OPAS
PARK PARKS PRK > PARK
PARKWAY PARKWAYS PARKWY PKWAY PKWY PKWYS PKY > PKWY
PASS > PASS
PASSAGE PSGE > PSGE
PATH PATHS > PATH
PIKE PIKES > PIKE
PINE PNE > PNE
PINES PNES > PNES
PLACE PL > PL
PLAIN PLN > PLN
PLAINS PLNS > PLNS
PLAZA PLZ PLZA > PLZ
POINT PT > PT
POINTS PTS > PTS
PORT PRT > PRT
PORTS PRTS > PRTS
PRAIRIE PR PRR > PR
RADIAL RAD RADIEL RADL > RADL
RAMP > RAMP
RANCH RANCHES RNCH RNCHS > RNCH
RAPID RPD > RPD
RAPIDS RPDS > RPDS
REST RST > RST
RIDGE RDG RDGE > RDG
RIDGES RDGS > RDGS
RIVER RIV RIVR RVR > RIV
ROAD RD > RD
ROADS RDS > RDS
ROUTE RTE > RTE
ROW > ROW
RUE > RUE
RUN > RUN
SHOAL SHL > SHL
SHOALS SHLS > SHLS
SHORE SHOAR SHR > SHR
SHORES SHOARS SHRS > SHRS
SKYWAY SKWY > SKWY
SPRING SPG SPNG SPRNG > SPG
SPRINGS SPGS SPNGS SPRNGS > SPGS
SPUR > SPUR
SPURS SPUR > SPUR
SQUARE SQ SQR SQRE SQU > SQ
SQUARES SQRS SQS > SQS
STATION STA STATN STN > STA
STRAVENUE STRA STRAV STRAVEN STRAVN STRVN STRVNUE > STRA
STREAM STREME STRM > STRM
STREET ST STR STRT > ST
STREETS STS > STS
SUMMIT SMT SUMIT SUMITT > SMT
TERRACE TER TERR > TER
THROUGHWAY TRWY > TRWY
TRACE TRACES TRCE > TRCE
TRACK TRACKS TRAK TRK TRKS > TRAK
TRAFFICWAY TRFY > TRFY
TRAIL TRAILS TRL TRLS > TRL
TRAILER TRLR TRLRS > TRLR
TUNNEL TUNEL TUNL TUNLS TUNNELS TUNNL > TUNL
TURNPIKE TPKE TRNPK TURNPK > TPKE
UNDERPASS UPAS > UPAS
UNION UN > UN
UNIONS UNS > UNS
VALLEY VALLY VLLY VLY > VLY
VALLEYS VLYS > VLYS
VIADUCT VDCT VIA VIADCT > VIA
VIEW VW > VW
VIEWS VWS > VWS
VILLAGE VILL VILLAG VILLG VILLIAGE VLG > VLG
VILLAGES VLGS > VLGS
VILLE VL > VL
VISTA VIS VIST VST VSTA > VIS
WALK WALKS > WALK
WALL > WALL
WAY WY > WAY
WAYS > WAYS
WELL WL > WL
WELLS WLS > WLS
"""

# Appendix C2: designator > abbreviation, and whether a number must follow it
C2_TABLE = {
    "APARTMENT": ("APT", True), "BASEMENT": ("BSMT", False), "BUILDING": ("BLDG", True),
    "DEPARTMENT": ("DEPT", True), "FLOOR": ("FL", True), "FRONT": ("FRNT", False), "HANGAR": ("HNGR", True),
    "KEY": ("KEY", True), "LOBBY": ("LBBY", False), "LOT": ("LOT", True), "LOWER": ("LOWR", False),
    "OFFICE": ("OFC", False), "PENTHOUSE": ("PH", False), "PIER": ("PIER", True), "REAR": ("REAR", False),
    "ROOM": ("RM", True), "SIDE": ("SIDE", False), "SLIP": ("SLIP", True), "SPACE": ("SPC", True),
    "STOP": ("STOP", True), "SUITE": ("STE", True), "TRAILER": ("TRLR", True), "UNIT": ("UNIT", True),
    "UPPER": ("UPPR", False),
}

DIRECTIONALS = {"N": ["NORTH", "N", "N."], "S": ["SOUTH", "S", "S."], "E": ["EAST", "E", "E."],
                "W": ["WEST", "W", "W."], "NE": ["NORTHEAST", "NE", "N.E."], "NW": ["NORTHWEST", "NW", "N.W."],
                "SE": ["SOUTHEAST", "SE", "S.E."], "SW": ["SOUTHWEST", "SW", "S.W."]}

# Appendix B (the states and DC) with a city of each, written as the city names itself
STATES = [
    ("AL", "Alabama", "Montgomery", "361"), ("AK", "Alaska", "Anchorage", "995"), ("AZ", "Arizona", "Phoenix", "850"),
    ("AR", "Arkansas", "Little Rock", "722"), ("CA", "California", "San Luis Obispo", "934"),
    ("CO", "Colorado", "Colorado Springs", "809"), ("CT", "Connecticut", "New Haven", "065"),
    ("DE", "Delaware", "Dover", "199"), ("DC", "District of Columbia", "Washington", "200"),
    ("FL", "Florida", "Port St. Lucie", "349"), ("GA", "Georgia", "Atlanta", "303"),
    ("HI", "Hawaii", "Honolulu", "968"),
    ("ID", "Idaho", "Coeur d'Alene", "838"), ("IL", "Illinois", "O'Fallon", "622"),
    ("IN", "Indiana", "Fort Wayne", "468"), ("IA", "Iowa", "Des Moines", "503"), ("KS", "Kansas", "Wichita", "672"),
    ("KY", "Kentucky", "Louisville", "402"), ("LA", "Louisiana", "Baton Rouge", "708"),
    ("ME", "Maine", "Portland", "041"), ("MD", "Maryland", "Baltimore", "212"),
    ("MA", "Massachusetts", "Boston", "021"),
    ("MI", "Michigan", "Grand Rapids", "495"), ("MN", "Minnesota", "Saint Paul", "551"),
    ("MS", "Mississippi", "Jackson", "392"), ("MO", "Missouri", "Kansas City", "641"),
    ("MT", "Montana", "Billings", "591"), ("NE", "Nebraska", "Omaha", "681"), ("NV", "Nevada", "Las Vegas", "891"),
    ("NH", "New Hampshire", "Manchester", "031"), ("NJ", "New Jersey", "Jersey City", "073"),
    ("NM", "New Mexico", "Santa Fe", "875"), ("NY", "New York", "New York", "100"),
    ("NC", "North Carolina", "Winston-Salem", "271"), ("ND", "North Dakota", "Fargo", "581"),
    ("OH", "Ohio", "Columbus", "432"), ("OK", "Oklahoma", "Tulsa", "741"), ("OR", "Oregon", "Eugene", "974"),
    ("PA", "Pennsylvania", "King of Prussia", "194"), ("RI", "Rhode Island", "Providence", "029"),
    ("SC", "South Carolina", "Charleston", "294"), ("SD", "South Dakota", "Sioux Falls", "571"),
    ("TN", "Tennessee", "Memphis", "381"), ("TX", "Texas", "McAllen", "785"), ("UT", "Utah", "Salt Lake City", "841"),
    ("VT", "Vermont", "Burlington", "054"), ("VA", "Virginia", "Richmond", "232"),
    ("WA", "Washington", "Spokane", "992"),
    ("WV", "West Virginia", "Charleston", "253"), ("WI", "Wisconsin", "Milwaukee", "532"),
    ("WY", "Wyoming", "Cheyenne", "820"),
]

# street names: ordinals, names holding a suffix word or a directional word inside, Spanish
# and French names, names of people; none of the demo's
NAMES = ["1ST", "2ND", "3RD", "4TH", "11TH", "22ND", "103RD", "CONNALLY", "OLIPHANT", "WASHBURN", "BENNETT",
         "DOUGLAS", "MARTIN LUTHER KING JR", "EL CAMINO REAL", "DE LA VINA", "LA SALLE", "SAINT JAMES",
         "OLD MILL", "ROCKY RIDGE", "LAKE SHORE", "COUNTRY CLUB", "CENTER", "PARK", "FOREST HILL", "MOUNTAIN VIEW",
         "PEACHTREE", "MAGNOLIA", "SYCAMORE", "HICKORY", "CHESTNUT", "WILLOW BEND", "QUAIL RUN", "FOX CHASE",
         "KINGS", "QUEENS", "JOHN F KENNEDY", "ROOSEVELT", "JEFFERSON DAVIS", "ABBOTT", "ZUNI", "OSAGE", "PUEBLO",
         "BEACON", "HARBOR VIEW", "SUMMIT RIDGE", "TIMBER", "CYPRESS", "PRAIRIE WIND", "BLUE HERON", "RED OAK"]

# types before the name (Publication 28, 237 Highways), as exports write them > as rendered
PRE_TYPES = {"HIGHWAY": ["HIGHWAY", "HWY"], "COUNTY ROAD": ["COUNTY ROAD", "COUNTY RD"],
             "STATE ROUTE": ["STATE ROUTE", "STATE RTE"], "US HIGHWAY": ["US HIGHWAY", "US HWY"],
             "STATE HIGHWAY": ["STATE HIGHWAY", "STATE HWY"], "AVENUE": ["AVENUE", "AVE"]}


@functools.cache
def c1_spellings() -> dict[str, str]:
    """Every spelling in C1 -> its standard abbreviation."""
    table = {}
    for line in C1_TABLE.strip().splitlines():
        words, code = line.split(" > ")
        for word in words.split() + [code]:
            table[word] = code
    return table


@dataclass
class AddressCase:
    record_id: str
    form: str                 # what the case exercises
    street_line_1: str
    street_line_2: str | None
    city: str
    state: str
    postal_code: str
    expected_street_address: str
    expected_street_unit: str | None
    expected_city: str
    expected_state_code: str
    expected_postal_code: str | None
    expected_postal_code_extension: str | None


class Pub28Corpus:
    """Cases built from the tables: every C1 spelling, every C2 designator, the rest drawn."""

    def __init__(self, seed: int = 28) -> None:
        self.r = random.Random(seed)
        self.n = 0

    def cases(self) -> list[AddressCase]:
        out = []
        for spelling, code in sorted(c1_spellings().items()):
            out.append(self._case(suffix=(spelling, code), form="c1_suffix"))
        for designator, (code, needs_number) in sorted(C2_TABLE.items()):
            for spelling in (designator, code):
                out.append(self._case(unit=(spelling, code, needs_number), form="c2_unit"))
        out.append(self._case(unit=("#", "#", True), form="c2_unit"))
        for form in ("post_directional", "pre_and_post_directional", "no_house_number", "grid_house_number",
                     "hyphenated_house_number", "fraction_house_number", "directional_as_name",
                     "suffix_word_as_name", "highway", "avenue_letter", "ordinal_floor", "number_word_in_name"):
            out += [self._case(form=form) for _ in range(60)]
        out += [self._case(form="drawn") for _ in range(1500)]
        return out

    # --------------------------------------------------------------------- parts ----
    def _case(self, form: str, suffix: tuple[str, str] | None = None,
              unit: tuple[str, str, bool] | None = None) -> AddressCase:
        r = self.r
        self.n += 1
        table = c1_spellings()
        if suffix is None:
            spelling = r.choice(list(table))
            suffix = (spelling, table[spelling])
        name = r.choice(NAMES)
        house_written = house = str(r.randint(1, 99999) if r.random() < 0.3 else r.randint(1, 9999))
        pre = post = None
        if form == "pre_and_post_directional" or (form == "drawn" and r.random() < 0.25):
            pre = r.choice(list(DIRECTIONALS))
        if form in ("post_directional", "pre_and_post_directional") or (form == "drawn" and r.random() < 0.1):
            post = r.choice(list(DIRECTIONALS))
        if form == "no_house_number":
            house_written = house = ""
        elif form == "grid_house_number":
            house_written = house = r.choice(["N", "S", "E", "W"]) + str(r.randint(1000, 9999))
        elif form == "hyphenated_house_number":
            house_written = house = f"{r.randint(10, 250)}-{r.randint(1, 99):02d}"
        elif form == "fraction_house_number":
            house = house_written = f"{r.randint(1, 999)} 1/2"
        pre_type = None
        suffix_written, suffix_code = suffix
        if form == "directional_as_name":
            word = r.choice(["EAST", "WEST", "NORTH", "SOUTH"])
            name = word if r.random() < 0.5 else word[0]
            pre = post = None
        elif form == "suffix_word_as_name":
            name = r.choice(["PARK", "CENTER", "PLAZA", "BROOK", "GROVE", "LAKE", "SPRING", "RIDGE"])
        elif form in ("highway", "avenue_letter"):
            pre_type = r.choice(["HIGHWAY", "COUNTY ROAD", "STATE ROUTE", "US HIGHWAY", "STATE HIGHWAY"]) \
                if form == "highway" else "AVENUE"
            name = str(r.randint(1, 299)) if form == "highway" else r.choice("ABCDHJKMNPRSTU")
            suffix_written = suffix_code = None
            post = None
        elif form == "number_word_in_name":
            name = "NUMBER " + r.choice(["ONE", "TWO", "FOUR", "NINE"])

        if unit is None and (form == "ordinal_floor" or (form != "c1_suffix" and r.random() < 0.3)):
            designator = "FLOOR" if form == "ordinal_floor" else r.choice(list(C2_TABLE))
            code, needs_number = C2_TABLE[designator]
            unit = (r.choice([designator, code]), code, needs_number)
        unit_written = unit_expected = None
        if unit is not None:
            spelling, code, needs_number = unit
            number = str(r.randint(1, 60)) if code == "FL" else r.choice(
                [str(r.randint(1, 2999)), r.choice("ABCDEF"), f"{r.randint(1, 30)}{r.choice('ABC')}"])
            if form == "ordinal_floor":
                unit_written = f"{number}{_ordinal_suffix(int(number))} {spelling}"
            elif not needs_number:
                unit_written, number = spelling, None
            elif spelling == "#":
                unit_written = f"#{number}" if r.random() < 0.5 else f"# {number}"
            else:
                unit_written = r.choice([f"{spelling} {number}", f"{spelling} #{number}", f"{spelling}. {number}"]) \
                    if len(spelling) <= 4 else f"{spelling} {number}"
            unit_expected = f"{code} {number}" if number else code

        words = []
        if house_written:
            words.append(house_written)
        if pre:
            words.append(r.choice(DIRECTIONALS[pre]))
        if pre_type:
            words.append(r.choice(PRE_TYPES[pre_type]))
        words.append(name)
        if suffix_written:
            words.append(suffix_written + ("." if r.random() < 0.15 and len(suffix_written) <= 4 else ""))
        if post:
            words.append(r.choice(DIRECTIONALS[post]))
        expected = " ".join(p for p in (house, pre, pre_type, name, suffix_code, post) if p)

        line_1, line_2 = " ".join(words), None
        if unit_written:
            placing = r.random()
            if placing < 0.4:
                line_2 = unit_written
            elif placing < 0.8:
                line_1 = f"{line_1}, {unit_written}"
            else:
                line_1 = f"{line_1} {unit_written}"
        line_1, line_2 = _write_case(r, line_1), (_write_case(r, line_2) if line_2 else None)
        if r.random() < 0.05:
            line_1 = "  " + line_1.replace(" ", "  ", 1) + " "

        state_code, state_name, city, zip3 = r.choice(STATES)
        zip5 = zip3 + f"{r.randint(0, 99):02d}"
        postal_written, postal_code, extension = _zip_form(r, zip5)
        return AddressCase(
            record_id=f"p28-{self.n:05d}", form=form, street_line_1=line_1, street_line_2=line_2,
            city=r.choice([city, city.upper(), city.lower(), city]), state=r.choice([state_code, state_name,
                                                                                    state_name.upper(),
                                                                                    state_code.lower()]),
            postal_code=postal_written, expected_street_address=expected, expected_street_unit=unit_expected,
            expected_city=city, expected_state_code=state_code, expected_postal_code=postal_code,
            expected_postal_code_extension=extension)


def _ordinal_suffix(n: int) -> str:
    return "TH" if 10 <= n % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")


def _write_case(r: random.Random, text: str) -> str:
    """As exports write a line: upper case, title case, lower case."""
    roll = r.random()
    if roll < 0.4:
        return text.upper()
    if roll < 0.85:
        return " ".join(w[:1].upper() + w[1:].lower() for w in text.split(" "))
    return text.lower()


def _zip_form(r: random.Random, zip5: str) -> tuple[str, str | None, str | None]:
    """(as written, expected ZIP, expected extension): ZIP+4 with a hyphen, a space or none, a
    ZIP that lost its leading zero, and codes no ZIP can be (six digits, a short extension)."""
    plus4 = f"{r.randint(0, 9999):04d}"
    roll = r.random()
    if roll < 0.45:
        return zip5, zip5, None
    if roll < 0.65:
        return f"{zip5}-{plus4}", zip5, plus4
    if roll < 0.72:
        return f"{zip5} {plus4}", zip5, plus4
    if roll < 0.78:
        return f"{zip5}{plus4}", zip5, plus4
    if roll < 0.9 and zip5.startswith("0"):
        with_extension = r.random() < 0.3
        written = zip5.lstrip("0") + (f"-{plus4}" if with_extension else "")
        return written, zip5, plus4 if with_extension else None
    if roll < 0.95:
        return zip5 + str(r.randint(0, 9)), None, None       # six digits: no ZIP
    return f"{zip5}-{plus4[:2]}", None, None                 # a ZIP+4 extension is four digits
