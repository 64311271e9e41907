"""Shared fixtures."""
import pytest
import torch


@pytest.fixture
def one_thread():
    """Run a test on one intra-op thread (small tensors; avoids oversubscribing a shared CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
