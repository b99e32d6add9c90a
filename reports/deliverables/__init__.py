"""What the client receives from a review, besides the HTML report: the report as PDF, the
meeting's PowerPoint deck and the Word summary, all from `report_data` and in the MSP's brand.

content.py reads what they show from the report's context; pdf.py, deck.py and word.py write
each file; formats.py names them for the command line and the web app.
"""
