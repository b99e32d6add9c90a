"""The plan a review makes with its client: initiatives, their cost lines, the budget by fiscal
quarter."""
