import json
# (id, question, [(passage, relevant)])
Q = [
("refund-window","How many days do I have to return an item for a refund?",[
 ("Items can be returned for a full refund within 30 days of delivery, provided they are unused and in their original packaging.",1),
 ("Refunds are issued to the original payment method and usually appear within 5 to 10 business days.",1),
 ("Our customer service team is available Monday to Friday, 9:00 to 17:00 CET.",0),
 ("Gift cards cannot be exchanged for cash.",0)]),
("refund-gift-card","Can I get a refund on a gift card?",[
 ("Gift cards are non-refundable and cannot be exchanged for cash, except where required by law.",1),
 ("Orders paid partly with a gift card are refunded to the gift card first, then to the card used.",1),
 ("Shipping to Norway and Switzerland may incur customs duties.",0)]),
("shipping-time","How long does standard delivery take within the UK?",[
 ("Standard delivery within the UK takes 2 to 4 working days; next-day delivery is available for orders placed before 14:00.",1),
 ("International orders are shipped with DHL and take 5 to 8 working days.",0),
 ("You can change your delivery address until the order has been dispatched.",0)]),
("shipping-cost","Is shipping free?",[
 ("Shipping is free on orders over £50; below that, standard delivery costs £3.95.",1),
 ("Returns are free using the prepaid label in your parcel.",0),
 ("Free samples are included with every beauty order.",0)]),
("track-order","How can I track my order?",[
 ("Once your order ships you receive an email with a tracking link; you can also track it under My Account > Orders.",1),
 ("Orders can be cancelled free of charge until they are packed.",0),
 ("We accept Visa, Mastercard, American Express, PayPal and Apple Pay.",0)]),
("cancel-order","Can I cancel my order after placing it?",[
 ("You can cancel an order from My Account > Orders as long as its status is 'Processing'. Once it is 'Packed' it can no longer be cancelled, but you can return it.",1),
 ("Subscriptions can be cancelled at any time from the Billing page.",0),
 ("Track your parcel with the link in your shipping confirmation.",0)]),
("payment-methods","Which payment methods do you accept?",[
 ("We accept Visa, Mastercard, American Express, PayPal, Apple Pay and Google Pay. Klarna is available in Germany and Sweden.",1),
 ("Payments are processed securely by Adyen; we never store your full card number.",1),
 ("Prices include VAT for deliveries within the EU.",0)]),
("price-match","Do you offer price matching?",[
 ("We match the price of identical items sold by authorised UK retailers within 14 days of your purchase.",1),
 ("Sale prices are valid while stocks last.",0),
 ("Loyalty points expire 12 months after they are earned.",0)]),
("warranty-length","How long is the warranty on the coffee machine?",[
 ("All coffee machines come with a 2-year manufacturer warranty covering defects in materials and workmanship.",1),
 ("Descaling every 3 months keeps the machine running smoothly; descaling tablets are sold separately.",0),
 ("The grinder can be adjusted to 15 settings.",0)]),
("warranty-claim","How do I make a warranty claim?",[
 ("To make a warranty claim, fill in the form at support.example.com/warranty with your order number and a photo or video of the fault.",1),
 ("Claims are reviewed within 3 business days; we then send a replacement or a prepaid repair label.",1),
 ("Accessories such as filters and seals are wear parts.",0),
 ("Our newsletter announces new products every month.",0)]),
("password-reset","How do I reset my password?",[
 ("Click 'Forgot password?' on the sign-in page and enter your email address. We will send you a link to choose a new password.",1),
 ("Password reset links are valid for 60 minutes.",1),
 ("You can change your display name under Profile settings.",0),
 ("Sign in with Google or Microsoft is available for business accounts.",0)]),
("two-factor","How do I turn on two-factor authentication?",[
 ("Go to Settings > Security and select 'Enable two-factor authentication'. Scan the QR code with an authenticator app such as Google Authenticator or 1Password.",1),
 ("If you lose your phone, use one of your backup codes to sign in.",1),
 ("Sessions expire after 30 days of inactivity.",0)]),
("account-locked","Why is my account locked?",[
 ("After 5 failed sign-in attempts your account is locked for 15 minutes to protect it from password guessing.",1),
 ("An administrator can unlock a member's account from the Admin console.",1),
 ("Workspace owners can export all data as a ZIP archive.",0)]),
("delete-account","How do I permanently delete my account?",[
 ("To delete your account, open Settings > Privacy and choose 'Delete account'. Deletion is permanent after a 14-day grace period.",1),
 ("Deactivating a team member frees their seat but keeps their files.",0),
 ("You can download a copy of your data before leaving.",0)]),
("change-email","Can I change the email address on my account?",[
 ("You can change your email address under Profile > Email. We send a confirmation link to the new address before the change takes effect.",1),
 ("Marketing emails can be turned off in Notification settings.",0),
 ("Team invitations expire after 7 days.",0)]),
("export-data","Can I export my data to CSV?",[
 ("Workspace data can be exported as CSV or JSON from Settings > Data export. Large exports are emailed as a download link.",1),
 ("Reports can be scheduled to be sent by email every week.",0),
 ("Imports accept CSV files up to 50 MB.",0)]),
("import-csv","What is the maximum file size for a CSV import?",[
 ("CSV imports accept files up to 50 MB and 200,000 rows. Larger files should be split or uploaded through the API.",1),
 ("Exports are generated in the background and emailed to you.",0),
 ("Column names are matched to fields automatically.",0)]),
("sso-setup","Do you support single sign-on with Okta?",[
 ("Enterprise plans support SAML single sign-on with Okta, Azure AD, Google Workspace and any SAML 2.0 identity provider.",1),
 ("To set up SSO, an admin uploads the identity provider's metadata XML under Admin > Authentication.",1),
 ("The Starter plan includes up to 5 users.",0)]),
("seat-add","How do I add more users to my team plan?",[
 ("Admins can add seats under Admin > Billing > Seats. New seats are charged pro rata for the rest of the billing period.",1),
 ("Invite new members by email from the Members page; they join once they accept.",1),
 ("The Starter plan supports up to 3 projects.",0)]),
("plan-downgrade","What happens to my data if I downgrade my plan?",[
 ("When you downgrade, your data is kept, but features of the higher plan become read-only and projects over the new limit are archived.",1),
 ("Upgrades take effect immediately and are billed pro rata.",0),
 ("Archived projects can be restored by upgrading again.",1)]),
("invoice-download","Where can I find my invoices?",[
 ("Invoices are available as PDF under Billing > Invoice history. Each invoice is also emailed to the billing contact.",1),
 ("To add a VAT number to future invoices, edit your billing details.",1),
 ("Support tickets are answered within one business day.",0)]),
("vat-number","How do I add our VAT number?",[
 ("Add your VAT ID under Billing > Company details. Invoices issued after that show the VAT ID and apply the reverse charge where applicable.",1),
 ("Prices on the website are shown without tax for business customers.",0),
 ("Your dashboard shows usage for the current month.",0)]),
("billing-cycle","When am I charged for my subscription?",[
 ("Subscriptions are billed at the start of each billing cycle, monthly or yearly, on the day you first subscribed.",1),
 ("If a payment fails, we retry it 3 times over 7 days before the account is paused.",1),
 ("You can pause notifications while on holiday.",0)]),
("failed-payment","What happens if my payment fails?",[
 ("If a card payment fails we retry it after 1, 3 and 7 days and email the billing contact each time. After the last attempt the workspace becomes read-only.",1),
 ("Update your card under Billing > Payment method.",1),
 ("Read-only links can be shared with anyone.",0)]),
("api-rate-limit","What is the API rate limit?",[
 ("The REST API allows 600 requests per minute per API key. Requests above the limit receive HTTP 429 with a Retry-After header.",1),
 ("Webhooks are retried with exponential backoff for up to 24 hours.",0),
 ("API keys can be created and revoked under Developer settings.",0)]),
("api-key-create","How do I create an API key?",[
 ("Create an API key under Settings > Developer > API keys. The key is shown only once, so store it securely.",1),
 ("Keys inherit the permissions of the user who created them.",1),
 ("The API returns dates in ISO 8601 format.",0)]),
("api-pagination","How does pagination work in the API?",[
 ("List endpoints are paginated with cursors: pass the next_cursor value from a response as the cursor parameter to get the next page. Pages hold up to 100 items.",1),
 ("Every response includes a request id in the X-Request-Id header.",0),
 ("Deleted objects are kept for 30 days.",0)]),
("webhook-retry","Are webhooks retried if my endpoint is down?",[
 ("Failed webhook deliveries are retried with exponential backoff for up to 24 hours. A delivery counts as failed when your endpoint does not answer 2xx within 10 seconds.",1),
 ("Each webhook is signed with an HMAC-SHA256 signature in the X-Signature header.",0),
 ("Rate limits apply per API key.",0)]),
("webhook-verify","How do I verify a webhook signature?",[
 ("Each webhook request carries an HMAC-SHA256 signature of the raw body in the X-Signature header, computed with your webhook secret. Compute the same HMAC and compare in constant time.",1),
 ("Webhook secrets can be rotated from the Webhooks page.",1),
 ("Failed deliveries are retried for 24 hours.",0)]),
("sdk-python","Is there an official Python SDK?",[
 ("The official Python SDK is published on PyPI as example-sdk and supports Python 3.9 and later: pip install example-sdk.",1),
 ("The JavaScript SDK works in Node.js 18+ and modern browsers.",0),
 ("All SDKs are open source under the MIT licence.",1)]),
("timezone-api","What timezone does the API use for timestamps?",[
 ("All timestamps in API responses are UTC, formatted as ISO 8601 with a trailing Z.",1),
 ("Your profile timezone only affects how dates are shown in the web app.",1),
 ("Working hours are set per team.",0)]),
("data-retention","How long do you keep deleted files?",[
 ("Deleted files stay in the trash for 30 days and can be restored; after that they are permanently removed from our servers within 7 days.",1),
 ("Backups are encrypted and kept for 35 days.",1),
 ("File uploads are limited to 2 GB each.",0)]),
("gdpr-dpa","Do you sign a data processing agreement?",[
 ("Yes. Our data processing agreement (DPA) under GDPR can be signed electronically from Admin > Legal.",1),
 ("Customer data is stored in the EU region you choose at sign-up: Frankfurt or Dublin.",0),
 ("We publish our subprocessors on the Trust page.",1)]),
("data-location","Where is my data stored?",[
 ("Customer data is stored in the region chosen at sign-up: EU (Frankfurt) or US (Virginia). It never leaves that region except for support access you approve.",1),
 ("Our status page reports uptime per region.",0),
 ("Invoices are issued in EUR or USD.",0)]),
("uptime-sla","What uptime do you guarantee?",[
 ("The Enterprise SLA guarantees 99.9% monthly uptime; if we miss it you receive service credits of 10% to 30% of the monthly fee.",1),
 ("Scheduled maintenance is announced 7 days ahead on the status page.",1),
 ("Support is available in English and German.",0)]),
("support-hours","When is customer support available?",[
 ("Our support team answers chat and email Monday to Friday from 8:00 to 20:00 CET, and Saturday from 10:00 to 16:00.",1),
 ("Enterprise customers have 24/7 phone support for critical incidents.",1),
 ("The help centre has over 300 articles.",0)]),
("store-hours","What time does the Munich store open on Sundays?",[
 ("The Munich store is open Monday to Saturday, 10:00 to 20:00, and closed on Sundays and public holidays.",1),
 ("Click and collect orders are ready within 2 hours.",0),
 ("Parking is free for customers for up to 2 hours.",0)]),
("click-collect","How long does click and collect take?",[
 ("Click and collect orders are usually ready for pickup within 2 hours during opening hours; we send a text message when yours is ready.",1),
 ("Bring your order number and a photo ID to collect.",1),
 ("Home delivery is free over €50.",0)]),
("loyalty-points","Do loyalty points expire?",[
 ("Loyalty points expire 12 months after the month in which they were earned.",1),
 ("Every €1 spent earns 1 point; 100 points are worth €1 off your next order.",1),
 ("Student discounts require verification.",0)]),
("student-discount","Is there a student discount?",[
 ("Students get 15% off with a verified UNiDAYS account; the discount cannot be combined with other promotions.",1),
 ("Newsletter subscribers receive 10% off their first order.",0),
 ("Gift wrapping costs €3.",0)]),
("size-guide","How do I know which shoe size to order?",[
 ("Use the size guide on each product page: measure your foot from heel to longest toe and compare it to the chart in centimetres.",1),
 ("If you are between sizes, we recommend choosing the larger size for running shoes.",1),
 ("Leather shoes should be treated with a waterproofing spray.",0)]),
("exchange-size","Can I exchange shoes for a different size?",[
 ("Yes, exchanges for a different size are free within 30 days. Start an exchange from your order page and we ship the new size once we receive the return.",1),
 ("Sale items can be returned but not exchanged.",1),
 ("Our shoes are made in Portugal.",0)]),
("roaming-eu","Can I use my mobile plan in other EU countries?",[
 ("Roam Like at Home: your minutes, texts and data can be used in all EU and EEA countries at no extra cost, subject to a fair use policy.",1),
 ("Outside the EU, roaming is charged per MB; add a Travel Pass to save.",0),
 ("Your contract can be cancelled with 30 days' notice after the minimum term.",0)]),
("data-allowance","What happens when I use up my mobile data?",[
 ("When you reach your monthly data allowance, your speed is reduced to 64 kbit/s until the next billing date. You can buy an extra 5 GB for €5 in the app.",1),
 ("Unused minutes do not roll over.",0),
 ("5G is available in over 400 cities.",0)]),
("sim-activate","How do I activate my new SIM card?",[
 ("Insert the SIM card and restart your phone; it activates automatically within 24 hours. If not, enter the activation code from the SIM letter at example.com/activate.",1),
 ("eSIMs are installed by scanning the QR code we email you.",1),
 ("Your PUK code is printed on the SIM holder.",0)]),
("contract-cancel","How do I cancel my broadband contract?",[
 ("You can cancel your broadband contract with 30 days' notice by phone or in My Account. Cancelling during the minimum term incurs an early termination fee.",1),
 ("Return the router within 14 days after cancellation to avoid a €60 charge.",1),
 ("Speed upgrades are available without a new contract.",0)]),
("router-reset","How do I reset my router?",[
 ("To factory reset the router, press and hold the reset button on the back for 10 seconds until the lights flash. This erases your Wi-Fi name and password.",1),
 ("Restarting the router by unplugging it for 30 seconds solves most connection problems.",1),
 ("Fibre installation takes about 3 hours.",0)]),
("card-lost","What should I do if I lose my debit card?",[
 ("If your debit card is lost or stolen, freeze it immediately in the app under Cards > Freeze, then order a replacement. A new card arrives in 3 to 5 working days.",1),
 ("You can call our 24/7 hotline to block your card.",1),
 ("Overdraft interest is charged monthly.",0)]),
("transfer-limit","What is the daily transfer limit?",[
 ("The default daily limit for outgoing transfers is €10,000; you can raise it to €50,000 in the app after confirming with your PIN.",1),
 ("Instant transfers arrive within 10 seconds, 24/7.",0),
 ("Standing orders can be set up for any date.",0)]),
("international-transfer","How long does an international transfer take?",[
 ("International SWIFT transfers usually arrive within 1 to 3 business days, depending on the receiving bank; SEPA transfers in euros arrive the next business day.",1),
 ("Transfers in foreign currencies are converted at the mid-market rate plus 0.5%.",1),
 ("Account statements are available for the last 10 years.",0)]),
("overdraft","How much does an overdraft cost?",[
 ("An arranged overdraft costs 9.9% annual interest, charged monthly on the amount you use. There is no fee for setting it up.",1),
 ("Credit card interest is 17.9% APR.",0),
 ("Savings accounts pay 2.1% interest.",0)]),
("statement-download","Where can I download my bank statements?",[
 ("Monthly statements are available as PDF in the app under Accounts > Statements, going back 10 years.",1),
 ("Statements are also sent to your online mailbox each month.",1),
 ("You can order a new PIN by post.",0)]),
("leave-policy","How many vacation days do employees get?",[
 ("Full-time employees receive 28 days of paid annual leave per calendar year, plus public holidays. Part-time leave is pro rata.",1),
 ("Up to 5 unused days can be carried over to the next year.",1),
 ("Expense claims must be submitted within 60 days.",0)]),
("sick-leave","What is the sick leave policy?",[
 ("Employees who are ill must inform their manager before 10:00 on the first day. A doctor's note is required from the fourth consecutive day of sickness.",1),
 ("Sick pay is 100% of salary for up to 6 weeks.",1),
 ("Remote work is possible up to 3 days a week.",0)]),
("expense-claim","How do I submit an expense claim?",[
 ("Submit expenses in the Expenses app with a photo of each receipt. Claims must be submitted within 60 days and are reimbursed with the next payroll.",1),
 ("Travel must be booked through the company travel portal.",0),
 ("The cafeteria is open from 8:00 to 15:00.",0)]),
("remote-work","How many days can I work from home?",[
 ("Employees may work remotely up to 3 days per week with their manager's agreement; core office days are Tuesday and Thursday.",1),
 ("Home office equipment up to €500 is reimbursed once.",1),
 ("Annual leave requests need 2 weeks' notice.",0)]),
("flight-baggage","How much checked baggage is included in my ticket?",[
 ("Economy Light fares include hand luggage only. Economy Classic includes one checked bag up to 23 kg; Business includes two bags up to 32 kg each.",1),
 ("Sports equipment such as skis can be registered up to 24 hours before departure.",0),
 ("Online check-in opens 30 hours before departure.",0)]),
("flight-checkin","When does online check-in open?",[
 ("Online check-in opens 30 hours before departure and closes 45 minutes before for European flights.",1),
 ("Boarding passes can be saved to Apple Wallet or Google Wallet.",1),
 ("Checked bags up to 23 kg are included in Classic fares.",0)]),
("flight-delay-compensation","Am I entitled to compensation if my flight is delayed?",[
 ("Under EU Regulation 261/2004, passengers can claim between €250 and €600 when a flight arrives more than 3 hours late, unless the delay was caused by extraordinary circumstances.",1),
 ("Submit compensation claims through the form on our website with your booking reference.",1),
 ("Meals on board are available for purchase.",0)]),
("hotel-cancel","Can I cancel my hotel booking for free?",[
 ("Bookings with a flexible rate can be cancelled free of charge until 18:00 local time on the day before arrival. Non-refundable rates cannot be cancelled.",1),
 ("Breakfast is served from 6:30 to 10:30.",0),
 ("Check-in is from 15:00; check-out by 11:00.",0)]),
("pet-policy","Are dogs allowed in the hotel?",[
 ("Dogs are welcome in selected rooms for a fee of €20 per night; please let us know when booking.",1),
 ("Guide dogs stay free of charge.",1),
 ("The spa is for adults only.",0)]),
("appointment-reschedule","How can I reschedule my doctor's appointment?",[
 ("You can reschedule an appointment in the patient portal under Appointments > Change, up to 24 hours before it starts. Later changes must be made by phone.",1),
 ("Missed appointments without notice may be charged €25.",1),
 ("Prescription refills take 2 working days.",0)]),
("prescription-refill","How long does a prescription refill take?",[
 ("Prescription refill requests made in the patient portal are processed within 2 working days; you will get a text when it is ready at your pharmacy.",1),
 ("Repeat prescriptions need a review with your doctor once a year.",1),
 ("Flu vaccinations are offered every autumn.",0)]),
("insurance-claim","How do I submit a claim for water damage?",[
 ("To claim for water damage, report it in the app within 30 days with photos of the damage and, if possible, repair estimates. An assessor may visit.",1),
 ("Home insurance covers water damage from burst pipes, but not gradual leaks or damp.",1),
 ("Car insurance renewals are sent 21 days before the end date.",0)]),
("car-insurance-abroad","Does my car insurance cover driving abroad?",[
 ("Your policy covers driving in all EU countries, Norway, Switzerland and the UK for trips of up to 90 days per year, with the same cover as at home.",1),
 ("Breakdown cover abroad is an optional add-on.",1),
 ("No-claims discounts are shown on your renewal letter.",0)]),
("library-renew","How many times can I renew a library book?",[
 ("Books can be renewed up to 3 times online, unless another reader has reserved them. Each renewal extends the loan by 3 weeks.",1),
 ("Late returns cost €0.50 per item per day.",1),
 ("The reading room closes at 22:00.",0)]),
("gym-freeze","Can I freeze my gym membership?",[
 ("Members can freeze their membership for 1 to 3 months per year for a fee of €5 per month, for example for travel or injury.",1),
 ("Memberships renew automatically every 12 months.",0),
 ("Group classes can be booked 7 days in advance.",0)]),
]
out = {
  "description": "Retrieval relevance labelled set: support and documentation questions, each with retrieved passages marked relevant (the passage helps answer the question) or not (same-domain distractors). Written by hand for probity's retrieval scorer; see tests/retrieval_eval.rs.",
  "version": 1,
  "questions": [
    {"id": i, "question": q, "passages": [{"text": t, "relevant": bool(r)} for t, r in ps]}
    for i, q, ps in Q
  ],
}
assert len(Q) >= 60, len(Q)
assert len({i for i,_,_ in Q}) == len(Q)
json.dump(out, open("/work/wt-R/tests/data/retrieval_relevance.json","w"), indent=1, ensure_ascii=False)
print(len(Q), sum(len(p) for _,_,p in Q), sum(r for _,_,p in Q for _,r in p))
