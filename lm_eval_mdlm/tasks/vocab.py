"""Word lists of our offline generator (our own lists; the official name list is not redistributed).

Names are common US given names and surnames (the kind the paper samples, §5 "Dataset Generation").
Words-to-Sentence sets are our own curation at the paper's three levels: *easy* = simple words that
belong together, *medium* = everyday words loosely connected, *hard* = words from unrelated domains.
"""

from __future__ import annotations

FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Barbara",
    "David", "Susan", "Richard", "Jessica", "Joseph", "Sarah", "Thomas", "Karen", "Charles", "Nancy",
    "Daniel", "Lisa", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Ashley", "Steven", "Emily",
    "Paul", "Donna", "Andrew", "Michelle", "Joshua", "Carol", "Kevin", "Amanda", "Brian", "Melissa",
    "George", "Deborah", "Edward", "Laura", "Ronald", "Rebecca", "Timothy", "Sharon", "Jason", "Cynthia",
    "Jeffrey", "Kathleen", "Ryan", "Amy", "Gary", "Angela", "Eric", "Helen", "Peter", "Anna",
)

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook",
)

PEOPLE = tuple(f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES)
"""Every Waiting Line person ("First Last"): the pool the generator samples lists from."""

# Single-token items of the synthetic list operations (paper §4: "[A, B, C, D, E]", replace with "F").
LIST_ITEMS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

# Latin-square symbols: letters and digits, as in the official samples ("[H, 4, C, A]").
LATIN_SYMBOLS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

WORDS_TO_SENTENCE = {
    "easy": (
        ("dog", "leash", "walk", "park"), ("cake", "candle", "birthday", "party"),
        ("rain", "umbrella", "cloud", "wet"), ("book", "library", "read", "quiet"),
        ("ship", "ocean", "wave", "sail"), ("snow", "cold", "winter", "coat"),
        ("garden", "flower", "water", "grow"), ("bread", "oven", "bake", "warm"),
        ("school", "teacher", "lesson", "learn"), ("train", "station", "ticket", "wait"),
        ("beach", "sand", "sun", "swim"), ("kitchen", "cook", "pan", "dinner"), ("farm", "cow", "milk", "barn"),
        ("bird", "nest", "tree", "sing"), ("doctor", "hospital", "patient", "help"),
        ("moon", "night", "star", "bright"), ("soccer", "ball", "kick", "goal"),
        ("coffee", "cup", "morning", "hot"), ("fish", "river", "catch", "boat"),
        ("music", "song", "dance", "happy"), ("shop", "buy", "money", "bag"), ("bed", "sleep", "pillow", "tired"),
        ("camera", "photo", "smile", "friend"), ("road", "car", "drive", "fast"),
        ("forest", "hike", "trail", "tree"), ("letter", "stamp", "mail", "send"),
        ("paint", "brush", "color", "wall"), ("cat", "milk", "purr", "soft"), ("phone", "call", "talk", "friend"),
        ("fire", "wood", "smoke", "warm"),
    ),
    "medium": (
        ("apple", "bridge", "quiet", "listen"), ("window", "guitar", "yellow", "borrow"),
        ("clock", "island", "brave", "carry"), ("ladder", "soup", "gentle", "whisper"),
        ("mirror", "garden", "lucky", "climb"), ("pencil", "storm", "proud", "follow"),
        ("basket", "mountain", "silver", "forget"), ("candle", "train", "curious", "hide"),
        ("blanket", "river", "loud", "paint"), ("hammer", "cloud", "sweet", "remember"),
        ("wallet", "forest", "empty", "laugh"), ("bottle", "castle", "narrow", "jump"),
        ("button", "desert", "friendly", "wander"), ("teapot", "harbor", "calm", "build"),
        ("key", "festival", "tiny", "shout"), ("shoe", "planet", "golden", "knock"),
        ("spoon", "valley", "honest", "gather"), ("glove", "tower", "sleepy", "count"),
        ("map", "orchestra", "rough", "share"), ("chair", "volcano", "polite", "swing"),
        ("rope", "museum", "bitter", "chase"), ("kettle", "meadow", "clever", "argue"),
        ("umbrella", "circus", "heavy", "wave"), ("pillow", "airport", "fresh", "draw"),
        ("coin", "lighthouse", "gentle", "promise"), ("scarf", "canyon", "bright", "hurry"),
        ("drum", "bakery", "cold", "balance"), ("feather", "factory", "shy", "travel"),
        ("envelope", "jungle", "smooth", "celebrate"), ("compass", "kitchen", "silent", "borrow"),
    ),
    "hard": (
        ("algorithm", "glacier", "sonnet", "rust"), ("mitochondria", "parliament", "saxophone", "dew"),
        ("quasar", "spreadsheet", "tapestry", "yeast"), ("tectonic", "lullaby", "invoice", "falcon"),
        ("photosynthesis", "mortgage", "harpsichord", "gravel"), ("nebula", "tax", "origami", "hinge"),
        ("enzyme", "monarchy", "trombone", "frost"), ("isotope", "sarcasm", "canoe", "ledger"),
        ("firmware", "cathedral", "plankton", "velvet"), ("entropy", "bagpipe", "mosquito", "treaty"),
        ("latitude", "croissant", "semaphore", "fungus"), ("catalyst", "gargoyle", "playlist", "lichen"),
        ("chromosome", "tariff", "accordion", "moss"), ("hologram", "barnacle", "epilogue", "quarry"),
        ("neutron", "lasagna", "archipelago", "subpoena"), ("bandwidth", "cactus", "minuet", "obituary"),
        ("protocol", "walrus", "chandelier", "drought"), ("vaccine", "pyramid", "ukulele", "spreadsheet"),
        ("magnetism", "pelican", "sonata", "bureaucracy"), ("genome", "igloo", "trumpet", "recession"),
        ("compiler", "orchid", "glacier", "verdict"), ("asteroid", "pretzel", "monsoon", "syntax"),
        ("paradox", "kangaroo", "furnace", "ballad"), ("satellite", "mushroom", "sculpture", "inflation"),
        ("molecule", "tornado", "violin", "warranty"), ("eclipse", "spatula", "democracy", "coral"),
        ("turbine", "haiku", "lobster", "census"), ("prism", "avalanche", "cardigan", "firewall"),
        ("skeleton", "satire", "meteor", "pancake"), ("pendulum", "algae", "opera", "mortgage"),
    ),
}
