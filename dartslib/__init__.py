"""dartslib: DARTS and the methods that stop it collapsing, as composable switches on one supernet.

The names below are the public API the book, coursework and tests rely on.
"""
from .config import SearchConfig, make_config
from .counting import count_macs, count_parameters
from .derive import derive, derive_darts, derive_nb201, derive_threshold
from .genotype import Genotype, format_genotype, parse_genotype
from .methods import METHODS
from .nb201 import build_nb201_network, format_nb201_arch, parse_nb201_arch
from .networks import build_network
from .search import Search, SearchResult, search
from .spaces import SPACES, SearchSpace, get_space
from .supernet import Supernet, build_supernet

__version__ = "0.1.0"

__all__ = [
    "Genotype", "METHODS", "SPACES", "Search", "SearchConfig", "SearchResult", "SearchSpace", "Supernet",
    "build_nb201_network", "build_network", "build_supernet", "count_macs", "count_parameters", "derive",
    "derive_darts", "derive_nb201", "derive_threshold", "format_genotype", "format_nb201_arch", "get_space",
    "make_config", "parse_genotype", "parse_nb201_arch", "search",
]
