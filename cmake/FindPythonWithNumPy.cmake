# Picks a Python interpreter that can import NumPy.
#
# The first python3 on PATH may lack NumPy (a pyenv build, a venv), while
# Debian's /usr/bin/python3 has it. Unless Python3_EXECUTABLE is given, try
# EMBER_PYTHON, then every python3 on PATH, then /usr/bin/python3, and keep
# the first one whose `import numpy` works and whose headers exist.
if(NOT Python3_EXECUTABLE)
  set(_cands "$ENV{EMBER_PYTHON}")
  string(REPLACE ":" ";" _path "$ENV{PATH}")
  foreach(_dir ${_path})
    list(APPEND _cands "${_dir}/python3")
  endforeach()
  list(APPEND _cands /usr/bin/python3 /usr/local/bin/python3)
  foreach(_py ${_cands})
    if(_py AND EXISTS "${_py}")
      execute_process(
        COMMAND "${_py}" -c "import numpy, sysconfig, os; assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))"
        RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
      if(_rc EQUAL 0)
        set(Python3_EXECUTABLE "${_py}" CACHE FILEPATH "Python with NumPy" FORCE)
        break()
      endif()
    endif()
  endforeach()
  if(NOT Python3_EXECUTABLE)
    message(FATAL_ERROR "No Python 3 with NumPy and development headers found (tried: ${_cands}). "
                        "Install python3-numpy and python3-dev, or pass -DPython3_EXECUTABLE=...")
  endif()
endif()
message(STATUS "ember: Python for the extension: ${Python3_EXECUTABLE}")
find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module NumPy)
