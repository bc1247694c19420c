"""tanjian.startup.lazy_duck_arrays: xarray stops importing dask.array and pint to ask, and still knows their arrays."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout.strip()


def test_wrapping_numpy_arrays_imports_neither_dask_nor_pint():
    out = _run("import sys, numpy as np\n"
               "from tanjian.startup import lazy_duck_arrays\n"
               "assert lazy_duck_arrays()\n"
               "import xarray as xr\n"
               "a = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=('x', 'y'), coords={'x': [1, 2]})\n"
               "b = (a * 2).sum('y').to_pandas()\n"
               "print(float(b.sum()), 'dask.array' in sys.modules, 'pint' in sys.modules)\n")
    assert out == "30.0 False False"


def test_dask_and_pint_arrays_are_still_theirs_once_imported():
    out = _run("from tanjian.startup import lazy_duck_arrays\n"
               "lazy_duck_arrays(); lazy_duck_arrays()  # twice: no harm\n"
               "import numpy as np, xarray as xr, dask.array as da, pint\n"
               "from xarray.namedarray.pycompat import array_type\n"
               "from xarray.namedarray.utils import is_duck_dask_array\n"
               "d = xr.DataArray(da.ones((4,), chunks=2), dims='x')\n"
               "q = pint.UnitRegistry().Quantity(np.ones(3), 'kWh')\n"
               "print(d.chunks, is_duck_dask_array(d.data), isinstance(q, array_type('pint')), "
               "float(d.sum().compute()))\n")
    assert out == "((2, 2),) True True 4.0"
