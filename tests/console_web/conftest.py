from tests.xray.xray_fixtures import db_path, xray, xray_server

__all__ = ["db_path", "xray", "xray_server"]
