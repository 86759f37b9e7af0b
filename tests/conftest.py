"""The fixtures of every suite (scratch, fault_server, and what
server_fixture makes) come from pyrus.fixtures; pytest.ini beside this
file puts tests/ on the import path."""

pytest_plugins = ["pyrus.fixtures"]
