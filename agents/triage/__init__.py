"""Triage: intent and category from a trained classifier; sentiment and urgency from rules."""

from agents.triage.classifier import IntentClassifier, load_classifier
from agents.triage.service import Triage, triage_text

__all__ = ["IntentClassifier", "Triage", "load_classifier", "triage_text"]
