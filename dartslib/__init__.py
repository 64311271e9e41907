"""dartslib: DARTS and the methods that stop it collapsing, as composable switches on one supernet.

The names below are the public API the book, coursework and tests rely on.
"""
from dartslib.engine.config import SearchConfig, make_config
from dartslib.arch.architecture import parse_architecture
from dartslib.arch.counting import count_macs, count_parameters
from dartslib.arch.derive import derive, derive_darts, derive_nb201, derive_threshold
from dartslib.arch.genotype import Genotype, format_genotype, parse_genotype
from dartslib.methods.presets import METHODS
from dartslib.arch.nb201 import build_nb201_network, format_nb201_arch, parse_nb201_arch
from dartslib.arch.networks import build_network
from dartslib.engine.loop import Search, SearchResult, search
from dartslib.space.spaces import SPACES, SearchSpace, get_space
from dartslib.space.supernet import Supernet, build_supernet

__version__ = "0.1.0"

__all__ = [
    "Genotype", "METHODS", "SPACES", "Search", "SearchConfig", "SearchResult", "SearchSpace", "Supernet",
    "build_nb201_network", "build_network", "build_supernet", "count_macs", "count_parameters", "derive",
    "derive_darts", "derive_nb201", "derive_threshold", "format_genotype", "format_nb201_arch", "get_space",
    "make_config", "parse_architecture", "parse_genotype", "parse_nb201_arch", "search",
]
