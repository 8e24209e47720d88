"""The GPU's kernels (minialex/fast/cuda_kernels.py) compiled for a current GPU, without a GPU.

tests/test_cuda_kernels.py runs the kernels' arithmetic as C++ on the CPU; this file checks that the
source is also valid CUDA: ``nvcc`` compiles every kernel, for float and double (the instances CuPy
asks for at run time), for sm_90 (Hopper) down to machine code, so ptxas checks it as well. Without
``nvcc`` on PATH (or in $CUDA_HOME/bin) the tests are skipped, and the reason says so.
"""
import os
import shutil
import subprocess

import pytest

from minialex.fast.cuda_kernels import C_TYPES, KERNELS, SOURCE

ARCH = "sm_90"


def find_nvcc():
    found = shutil.which("nvcc")
    if found:
        return found
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
    candidate = os.path.join(home, "bin", "nvcc")
    return candidate if os.access(candidate, os.X_OK) else None


NVCC = find_nvcc()
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="no CUDA compiler (nvcc) on this machine: the kernels' CUDA "
                                                      "compile check needs the CUDA toolkit")


def compile_kernels(source, tmp_path):
    """nvcc's (returncode, messages) for ``source`` with every kernel instantiated for every type CuPy
    uses. A template is only compiled where it is instantiated, so each instance's address is taken."""
    instances = ", ".join(f"(void*)&{kernel}<{ctype}>" for kernel in KERNELS for ctype in C_TYPES.values())
    path = tmp_path / "kernels.cu"
    path.write_text(source + "\nextern void* const minialex_instances[];\n"
                    f"void* const minialex_instances[] = {{{instances}}};\n")
    result = subprocess.run([NVCC, f"-arch={ARCH}", "--std=c++14", "-c", str(path), "-o", str(tmp_path / "k.o")],
                            capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


@needs_nvcc
def test_every_kernel_compiles_for_sm_90(tmp_path):
    returncode, messages = compile_kernels(SOURCE, tmp_path)
    assert returncode == 0, f"nvcc could not compile minialex/fast/cuda_kernels.py's kernels:\n{messages}"
    assert (tmp_path / "k.o").stat().st_size > 0


@needs_nvcc
def test_a_kernel_that_does_not_compile_fails_the_check(tmp_path):
    """The check can fail: col2im's sum started from a name that does not exist."""
    broken = SOURCE.replace("T sum = 0;", "T sum = no_such_value;", 1)
    assert broken != SOURCE
    returncode, messages = compile_kernels(broken, tmp_path)
    assert returncode != 0
    assert "no_such_value" in messages
