"""Annual reports of the awards (Cerfa 15059): activity, planned against actual per budget
line with the explanation of every gap over 10 %, indicators; staff accept or send back;
reminders before and after the due date."""
