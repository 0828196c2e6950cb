"""Fixtures and helpers of these tests live in detect_support.py (a name of its own: 
``from conftest import`` finds whichever conftest module was imported first)."""

from detect_support import *  # noqa: F401,F403
