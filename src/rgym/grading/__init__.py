"""Grading: an rgym-owned grader scores a snapshot of the artefact in a fresh sandbox."""

from rgym.grading.runner import Grade, GradeStatus, check_artifact, grade

__all__ = ["Grade", "GradeStatus", "check_artifact", "grade"]
